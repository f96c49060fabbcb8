"""Step 4 of ASC 606 / IFRS 15: allocate the transaction price to the performance obligations.

- Relative standalone selling price (ASC 606-10-32-31): each obligation gets the transaction price times its
  SSP over the sum of SSPs, so a discount is shared in proportion (32-36).
- A discount can go to some obligations only when they are regularly sold together at that discount
  (32-37): pass a `DiscountedBundle`.
- Residual approach (32-34(c)) for the one obligation whose SSP is highly variable (a range, no point price):
  its SSP is what remains of the transaction price after the observable SSPs, refused outside the range.
- Variable consideration that relates to usage goes entirely to the usage obligation (32-40); it gets no
  share of the fixed price, and its revenue follows the usage (see `recognition.plan_usage`).

Amounts are split with `Money.allocate` (largest remainder), so they add up to the transaction price exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from canonical.contract import service_months
from canonical.money import Money, sum_money
from canonical.product import SspBasis
from revenue.obligations import PerformanceObligation

__all__ = [
    "AllocatedObligation",
    "Allocation",
    "AllocationError",
    "AllocationMethod",
    "DiscountedBundle",
    "ResidualOutOfRangeError",
    "allocate_transaction_price",
    "standalone_selling_price",
]

MONTHS_PER_YEAR = Decimal(12)


class AllocationError(ValueError):
    """The transaction price cannot be allocated as asked; the message names the obligation and why."""


class ResidualOutOfRangeError(AllocationError):
    def __init__(self, obligation: PerformanceObligation, residual: Money) -> None:
        low, high = obligation.standalone.low, obligation.standalone.high
        super().__init__(
            f"the residual approach gives {obligation.obligation_id} ({obligation.product_code}) a standalone selling "
            f"price of {residual}, outside its range {low or '-'}..{high or '-'}; estimate its SSP another way "
            "(ASC 606-10-32-34, Example 34 case C)"
        )
        self.obligation_id = obligation.obligation_id
        self.residual = residual


class AllocationMethod(StrEnum):
    RELATIVE_SSP = "relative_ssp"
    RESIDUAL = "residual"
    VARIABLE_CONSIDERATION = "variable_consideration"


@dataclass(frozen=True, slots=True)
class DiscountedBundle:
    """Observable evidence that the contract's discount belongs to these obligations (ASC 606-10-32-37):
    the entity regularly sells them together for `price`."""

    obligation_ids: frozenset[str]
    price: Money


@dataclass(frozen=True, slots=True)
class AllocatedObligation:
    obligation: PerformanceObligation
    standalone_selling_price: Money | None  # the residual estimate for RESIDUAL; None for usage
    method: AllocationMethod
    amount: Money  # share of the fixed transaction price, in the minor unit


@dataclass(frozen=True, slots=True)
class Allocation:
    transaction_price: Money
    lines: tuple[AllocatedObligation, ...]

    def line(self, obligation_id: str) -> AllocatedObligation:
        for line in self.lines:
            if line.obligation.obligation_id == obligation_id:
                return line
        raise KeyError(obligation_id)

    def amount_for(self, obligation_id: str) -> Money:
        return self.line(obligation_id).amount


def standalone_selling_price(obligation: PerformanceObligation) -> Money | None:
    """The point SSP of what the obligation promises, to the cent; None when the mapping gives only a range.

    `unit_per_year` scales by quantity and by the service period in years, measured as months / 12 with
    `canonical.contract.service_months` -- the measure the contract value (the price) is computed with, so
    price and SSP of a line cover the same stretch, and a calendar year is exactly one year, leap or not.
    `each` scales by quantity (the largest quantity, should a ramp give several).
    """
    standalone = obligation.standalone
    if standalone.price is None:
        return None
    if standalone.price.currency != obligation.currency:
        raise AllocationError(
            f"{obligation.obligation_id}'s SSP is in {standalone.price.currency}, its price in {obligation.currency}"
        )
    if standalone.basis is SspBasis.EACH:
        units = max(phase.quantity for phase in obligation.quantities)
    else:
        units = _unit_years(obligation)
    return (standalone.price * units).rounded()


def _unit_years(obligation: PerformanceObligation) -> Decimal:
    """Quantity x years of service, summed over the quantity phases within the obligation's service period."""
    start, end = obligation.start, obligation.end
    unit_months = Decimal(0)
    for phase in obligation.quantities:
        if phase.end >= start and phase.start <= end:
            unit_months += phase.quantity * _service_months(max(phase.start, start), min(phase.end, end))
    return unit_months / MONTHS_PER_YEAR


@lru_cache(maxsize=8192)
def _service_months(start: date, end: date) -> Decimal:
    # Service periods repeat across a book of contracts (most start on a 1st and end on a month end), and
    # canonical's measure walks month by month: remembering it keeps a 100,000-contract run from doing so.
    return service_months(start, end)


def allocate_transaction_price(
    obligations: Sequence[PerformanceObligation],
    *,
    transaction_price: Money | None = None,
    bundle: DiscountedBundle | None = None,
) -> Allocation:
    """Allocate `transaction_price` (default: the obligations' fixed consideration) by relative SSP."""
    if not obligations:
        raise AllocationError("nothing to allocate to: no performance obligations")
    currency = obligations[0].currency
    fixed = [o for o in obligations if not o.is_variable]
    price = sum_money((o.consideration for o in fixed), currency) if transaction_price is None else transaction_price
    if not price.is_rounded or price.is_negative or price.currency != currency:
        raise AllocationError(f"the transaction price must be a non-negative amount in {currency} cents, not {price}")
    ssp = _standalone_prices(fixed, price, bundle)
    if bundle is None:
        amounts = _split(price, fixed, ssp)
    else:
        bundled = bundle.obligation_ids
        amounts = _split(bundle.price, [o for o in fixed if o.obligation_id in bundled], ssp)
        amounts |= _split(price - bundle.price, [o for o in fixed if o.obligation_id not in bundled], ssp)
    return Allocation(transaction_price=price, lines=tuple([_line(o, ssp, amounts) for o in obligations]))


def _line(obligation: PerformanceObligation, ssp: dict[str, Money], amounts: dict[str, Money]) -> AllocatedObligation:
    if obligation.is_variable:
        return AllocatedObligation(
            obligation, None, AllocationMethod.VARIABLE_CONSIDERATION, Money.zero(obligation.currency)
        )
    method = AllocationMethod.RESIDUAL if obligation.standalone.highly_variable else AllocationMethod.RELATIVE_SSP
    return AllocatedObligation(obligation, ssp[obligation.obligation_id], method, amounts[obligation.obligation_id])


def _standalone_prices(
    fixed: list[PerformanceObligation], price: Money, bundle: DiscountedBundle | None
) -> dict[str, Money]:
    """Every fixed obligation's SSP; the residual one's is what the others' observable prices leave over."""
    ssp: dict[str, Money] = {}
    residual: list[PerformanceObligation] = []
    for obligation in fixed:
        point = standalone_selling_price(obligation)
        if point is not None:
            ssp[obligation.obligation_id] = point
        elif obligation.standalone.highly_variable:
            residual.append(obligation)
        else:
            raise AllocationError(
                f"{obligation.obligation_id} ({obligation.product_code}) has no standalone selling price"
            )
    if bundle is not None:
        _check_bundle(bundle, fixed, residual, price)
    if len(residual) > 1:
        names = ", ".join(o.obligation_id for o in residual)
        raise AllocationError(f"only one obligation can take the residual approach; {names} all have only an SSP range")
    if residual:
        observable = sum_money(
            (s for oid, s in ssp.items() if bundle is None or oid not in bundle.obligation_ids), price.currency
        )
        if bundle is not None:
            observable = observable + bundle.price
        ssp[residual[0].obligation_id] = _residual(residual[0], price - observable)
    return ssp


def _residual(obligation: PerformanceObligation, residual: Money) -> Money:
    low, high = obligation.standalone.low, obligation.standalone.high
    if residual.is_negative or (low is not None and residual < low) or (high is not None and residual > high):
        raise ResidualOutOfRangeError(obligation, residual)
    return residual


def _check_bundle(
    bundle: DiscountedBundle, fixed: list[PerformanceObligation], residual: list[PerformanceObligation], price: Money
) -> None:
    known = {o.obligation_id for o in fixed}
    if unknown := bundle.obligation_ids - known:
        raise AllocationError(f"the discounted bundle names obligations without fixed consideration: {sorted(unknown)}")
    if any(o.obligation_id in bundle.obligation_ids for o in residual):
        raise AllocationError("an obligation priced by the residual approach cannot be in the discounted bundle")
    if bundle.price.is_negative or bundle.price > price:
        raise AllocationError(f"the bundle price {bundle.price} does not fit in the transaction price {price}")


def _split(pool: Money, members: list[PerformanceObligation], ssp: dict[str, Money]) -> dict[str, Money]:
    if not members:
        if not pool.is_zero:
            raise AllocationError(f"{pool} is left to allocate but no obligation is left to take it")
        return {}
    ids = [o.obligation_id for o in members]
    weights = [ssp[oid].amount for oid in ids]
    if not any(weights):  # every SSP is zero
        if pool.is_zero:
            return dict.fromkeys(ids, pool)
        raise AllocationError(f"cannot allocate {pool} by relative SSP: {', '.join(ids)} all have a zero SSP")
    if min(weights) < 0:
        raise AllocationError("standalone selling prices cannot be negative")
    if len(ids) == 1 and pool.is_rounded:  # the whole pool in minor units: the split's answer, without one
        return {ids[0]: Money.from_minor_units(pool.to_minor_units(), pool.currency)}
    return dict(zip(ids, pool.allocate(weights), strict=True))
