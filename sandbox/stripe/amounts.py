"""Amounts in minor units: per-unit and tiered prices, prorations to the second, description texts.

Stripe computes with `unit_amount_decimal` (fractions of a minor unit allowed, up to 12 decimal places) and
rounds each line's amount to a whole minor unit on its own. Half-up is assumed here (*unverified*: Stripe does
not document its rounding mode for fractional amounts).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from canonical.currencies import is_known_currency, minor_unit_digits

Obj = dict[str, Any]
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "jpy": "¥", "chf": "CHF "}


def whole(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def unit_amount(price: Obj) -> Decimal:
    text = price.get("unit_amount_decimal")
    return Decimal(text) if text is not None else Decimal(0)


def licensed_amount(price: Obj, quantity: int) -> int:
    return whole(unit_amount(price) * quantity)


def tiered_amount(price: Obj, usage: int) -> int:
    """Graduated tiers charge each unit at its tier's price; volume tiers charge all units at one tier's."""
    tiers = price.get("_tiers") or []
    if price.get("billing_scheme") != "tiered":
        return whole(unit_amount(price) * usage)
    if price.get("tiers_mode") == "volume":
        tier = next((t for t in tiers if t["up_to"] is None or usage <= t["up_to"]), tiers[-1])
        return whole(_tier_unit(tier) * usage + _tier_flat(tier)) if usage else 0
    total, floor = Decimal(0), 0
    for tier in tiers:
        ceiling = tier["up_to"]
        units = max(0, (usage if ceiling is None else min(usage, ceiling)) - floor)
        if units:
            total += _tier_unit(tier) * units + _tier_flat(tier)
        if ceiling is None or usage <= ceiling:
            break
        floor = ceiling
    return whole(total)


def _tier_unit(tier: Obj) -> Decimal:
    value = tier.get("unit_amount_decimal")
    return Decimal(value) if value is not None else Decimal(0)


def _tier_flat(tier: Obj) -> Decimal:
    value = tier.get("flat_amount_decimal")
    return Decimal(value) if value is not None else Decimal(0)


def prorated(price: Obj, quantity: int, period: tuple[int, int], since: int) -> int:
    """The share of a full period's amount for the time from `since` to the period's end, to the second."""
    start, end = period
    if end <= start:
        return 0
    remaining = Decimal(max(0, end - max(since, start)))
    return whole(unit_amount(price) * quantity * remaining / Decimal(end - start))


def money_text(amount: Decimal | int, currency: str) -> str:
    digits = minor_unit_digits(currency.upper()) if is_known_currency(currency.upper()) else 2
    major = Decimal(amount).scaleb(-digits)
    symbol = _SYMBOLS.get(currency.lower())
    text = f"{major:,.{digits}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def interval_text(price: Obj) -> str:
    recurring = price.get("recurring") or {}
    count, interval = recurring.get("interval_count", 1), recurring.get("interval", "month")
    return interval if count == 1 else f"every {count} {interval}s"
