"""Canonical contract and customer → Stripe request parameters. Pure: no I/O, so every choice is testable.

- Recurring lines become prices of their billing frequency (monthly net price × 1, 3 or 12 months), in minor
  units as `unit_amount_decimal` (exact: Stripe accepts fractions of a cent, up to 12 decimal places).
- Usage lines become metered prices on the usage meter, graduated: the monthly allowance at 0, the rest at
  the overage price.
- One-time lines become one-time prices, added to the first invoice (`add_invoice_items`).
- Ramp phases, and lines whose service period is shorter than the term, split the term into segments; more than
  one segment becomes a subscription schedule with one phase per segment.
- Timing: Stripe bills a subscription from its creation. A term that starts within a month is anchored on its
  start (`billing_cycle_anchor`, no proration: the days before are free); one that starts later gets a free
  trial up to its start (an anchor may be at most one interval ahead); one that already started is backdated
  and anchored on the next monthly anniversary of its start, prorating the time since.
- A contract ends: the subscription is cancelled at the end of the term (`cancel_at`, or the schedule's
  `end_behavior=cancel`), which also invoices the last month's usage.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.errors import PermanentAdapterError
from canonical.contract import BillingFrequency, Contract, ContractLine
from canonical.customer import Customer
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.product import LineKind
from canonical.references import System

Params = dict[str, Any]
MONTHS = {BillingFrequency.MONTHLY: 1, BillingFrequency.QUARTERLY: 3, BillingFrequency.ANNUAL: 12}
MAX_DECIMALS = 12


def unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _refuse(message: str) -> PermanentAdapterError:
    return PermanentAdapterError(System.BILLING, message, ExceptionCategory.INVALID_DATA)


def minor_units(money: Money) -> str:
    """`90.00 USD` → "9000"; `0.002 USD` → "0.2": exact, as Stripe's `unit_amount_decimal` takes it."""
    value = money.amount.scaleb(money.minor_unit_digits)
    text = format(value.normalize(), "f")
    if "." in text and len(text.split(".")[1]) > MAX_DECIMALS:
        raise _refuse(f"{money} has more precision than Stripe accepts (12 decimal places of a minor unit)")
    return text


def whole(value: Decimal, what: str) -> int:
    if value != value.to_integral_value():
        raise _refuse(f"{what} must be a whole number for Stripe, not {value}")
    return int(value)


def search_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def customer_params(customer: Customer, erp_customer_id: str, key: str, test_clock: str | None) -> Params:
    params: Params = {
        "name": customer.name,
        "email": customer.billing_contact.email,
        "description": f"{customer.name} ({customer.legal_entity})",
        "metadata": {
            "crm_account_id": customer.crm_account_id,
            "erp_customer_id": erp_customer_id,
            "legal_entity": customer.legal_entity,
            "country": customer.country,
            "billing_contact_name": customer.billing_contact.name,
            "q2c_created_by": key,
        },
    }
    address = customer.billing_address
    if address is not None:
        params["address"] = {
            "line1": address.line1,
            "city": address.city,
            "postal_code": address.postal_code or None,
            "state": address.region or None,
            "country": address.country,
        }
        params["address"] = {k: v for k, v in params["address"].items() if v is not None}
    if test_clock:
        params["test_clock"] = test_clock
    return params


@dataclass(frozen=True)
class PriceSpec:
    """One price to create: `ref` names it within the saga (line, ramp phase) and in its idempotency key."""

    ref: str
    params: Params


def recurring_price(contract: Contract, line: ContractLine, unit_price: Money, ref: str, key: str) -> PriceSpec:
    months = MONTHS[line.billing_frequency]
    interval = {"interval": "year"} if months == 12 else {"interval": "month", "interval_count": months}
    return PriceSpec(
        ref,
        {
            "product": line.mapping.billing_price_key,
            "currency": contract.currency.lower(),
            "unit_amount_decimal": minor_units(unit_price * months),
            "recurring": {**interval, "usage_type": "licensed"},
            "nickname": f"{contract.contract_id} line {line.line_no} ({line.product_code})",
            "metadata": _metadata(contract, line, key, ref),
        },
    )


def usage_price(contract: Contract, line: ContractLine, meter_id: str, key: str) -> PriceSpec:
    assert line.usage is not None  # a usage line always has terms (ContractLine validates it)
    included = whole(line.usage.included_per_month, f"line {line.line_no}'s included usage")
    overage = minor_units(line.usage.unit_price_over_included)
    params: Params = {
        "product": line.mapping.billing_price_key,
        "currency": contract.currency.lower(),
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
        "nickname": f"{contract.contract_id} line {line.line_no} ({line.product_code}, per {line.usage.unit})",
        "metadata": _metadata(contract, line, key, f"line-{line.line_no}"),
    }
    if included == 0:
        params |= {"billing_scheme": "per_unit", "unit_amount_decimal": overage}
    else:
        params |= {
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": included, "unit_amount_decimal": "0"},
                {"up_to": "inf", "unit_amount_decimal": overage},
            ],
        }
    return PriceSpec(f"line-{line.line_no}", params)


def one_time_price(contract: Contract, line: ContractLine, key: str) -> PriceSpec:
    assert line.amount is not None  # a one-time line always has an amount (ContractLine validates it)
    return PriceSpec(
        f"line-{line.line_no}",
        {
            "product": line.mapping.billing_price_key,
            "currency": contract.currency.lower(),
            "unit_amount_decimal": minor_units(line.amount),
            "nickname": f"{contract.contract_id} line {line.line_no} ({line.product_code})",
            "metadata": _metadata(contract, line, key, f"line-{line.line_no}"),
        },
    )


def _metadata(contract: Contract, line: ContractLine, key: str, ref: str) -> dict[str, str]:
    return {
        "contract_id": contract.contract_id,
        "line_no": str(line.line_no),
        "product_code": line.product_code,
        "q2c_created_by": key,
        "q2c_price_ref": ref,
    }


@dataclass(frozen=True)
class Segment:
    """A stretch of the term in which the same items run: (price ref, quantity or None for metered)."""

    start: date
    end_exclusive: date
    items: tuple[tuple[str, int | None], ...]


def segments(contract: Contract) -> list[Segment]:
    billed = [line for line in contract.lines if line.kind is not LineKind.ONE_TIME]
    term_end = contract.term_end + timedelta(days=1)
    cuts = {contract.term_start, term_end}
    for line in billed:
        cuts |= {line.service_start, line.service_end + timedelta(days=1)}
        for phase in line.ramp_phases:
            cuts |= {phase.start, phase.end + timedelta(days=1)}
    ordered = sorted(c for c in cuts if contract.term_start <= c <= term_end)
    result = []
    for start, end in itertools.pairwise(ordered):
        items = tuple(item for line in billed if (item := _item_in(line, start, end)) is not None)
        if not items:
            raise _refuse(f"no billable line runs from {start} to {end - timedelta(days=1)}: Stripe needs one")
        result.append(Segment(start, end, items))
    return result


def _item_in(line: ContractLine, start: date, end: date) -> tuple[str, int | None] | None:
    if not (line.service_start <= start and end - timedelta(days=1) <= line.service_end):
        return None
    if line.kind is LineKind.USAGE:
        return f"line-{line.line_no}", None
    if not line.ramp_phases:
        return f"line-{line.line_no}", whole(line.quantity, f"line {line.line_no}'s quantity")
    for index, phase in enumerate(line.ramp_phases):
        if phase.start <= start and end - timedelta(days=1) <= phase.end:
            return f"line-{line.line_no}-phase-{index + 1}", whole(phase.quantity, f"line {line.line_no}'s quantity")
    return None


def recurring_prices(contract: Contract, key: str) -> list[PriceSpec]:
    specs = []
    for line in contract.lines:
        if line.kind is not LineKind.RECURRING:
            continue
        if line.ramp_phases:
            specs += [
                recurring_price(contract, line, phase.net_unit_price, f"line-{line.line_no}-phase-{n}", key)
                for n, phase in enumerate(line.ramp_phases, start=1)
            ]
        else:
            assert line.net_unit_price is not None  # recurring lines always have one (ContractLine validates it)
            specs.append(recurring_price(contract, line, line.net_unit_price, f"line-{line.line_no}", key))
    return specs


def timing(term_start: date, now: int) -> Params:
    start = unix(term_start)
    if start > now:
        if start <= int(add_months(datetime.fromtimestamp(now, UTC), 1).timestamp()):
            return {"billing_cycle_anchor": start, "proration_behavior": "none"}
        return {"trial_end": start, "proration_behavior": "none"}
    origin = datetime.fromtimestamp(start, UTC)
    months = 1
    while int(add_months(origin, months).timestamp()) <= now:
        months += 1
    anchor = int(add_months(origin, months).timestamp())
    return {"backdate_start_date": start, "billing_cycle_anchor": anchor, "proration_behavior": "create_prorations"}


def subscription_params(
    contract: Contract,
    customer_id: str,
    first: Segment,
    price_ids: dict[str, str],
    one_time: list[str],
    key: str,
    now: int,
    scheduled: bool,
) -> Params:
    params: Params = {
        "customer": customer_id,
        "items": [_item(price_ids[ref], quantity) for ref, quantity in first.items],
        "collection_method": "send_invoice",
        "days_until_due": contract.customer.payment_terms_days,
        "description": f"{contract.contract_id} v{contract.version}",
        "metadata": {
            "contract_id": contract.contract_id,
            "contract_version": str(contract.version),
            "opportunity_id": contract.opportunity_id,
            "mapping_version": contract.mapping_version,
            "q2c_created_by": key,
        },
        **timing(contract.term_start, now),
    }
    if one_time:
        params["add_invoice_items"] = [{"price": price_id, "quantity": 1} for price_id in one_time]
    if not scheduled:
        params["cancel_at"] = unix(contract.term_end + timedelta(days=1))
    return params


def _item(price_id: str, quantity: int | None) -> Params:
    return {"price": price_id} if quantity is None else {"price": price_id, "quantity": quantity}


def schedule_phases(phase_zero_start: int, parts: list[Segment], price_ids: dict[str, str]) -> list[Params]:
    """Phases for a schedule made from the subscription: the first keeps its start and runs to the second
    segment; each later one runs to its segment's end; the last ends with the term."""
    phases = []
    for index, part in enumerate(parts):
        phase: Params = {
            "items": [_item(price_ids[ref], quantity) for ref, quantity in part.items],
            "end_date": unix(part.end_exclusive),
            # a change at a month boundary prorates nothing; one mid-period is charged for the rest of it
            "proration_behavior": "none" if index == 0 else "create_prorations",
        }
        if index == 0:
            phase["start_date"] = phase_zero_start
        phases.append(phase)
    return phases
