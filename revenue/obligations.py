"""Step 2 of ASC 606 / IFRS 15: the performance obligations of a canonical contract.

One obligation per contract line, satisfied as the line's product mapping says:

- recurring lines are a series of distinct services satisfied over time, across the line's service period;
- one-time lines are satisfied at a point in time, on their delivery milestone (`ContractLine.delivered_on`);
  one the mapping marks not distinct (ASC 606-10-25-19..22) cannot be a separate obligation, so it is
  recognised over the contract term together with the services it belongs to;
- usage lines carry only variable consideration, which is allocated entirely to them (ASC 606-10-32-40) and
  recognised in the period the usage occurs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from canonical.contract import Contract, ContractLine, UsageTerms
from canonical.money import Money
from canonical.product import LineKind, RevenueTreatment, SspBasis

__all__ = [
    "PerformanceObligation",
    "QuantityPhase",
    "Satisfaction",
    "StandalonePrice",
    "obligation_for_line",
    "obligations_from_contract",
]


class Satisfaction(StrEnum):
    OVER_TIME = "over_time"
    POINT_IN_TIME = "point_in_time"
    USAGE = "usage"  # variable consideration, recognised as the usage occurs


@dataclass(frozen=True, slots=True)
class QuantityPhase:
    """How many units are promised from `start` to `end` (inclusive); a ramp deal has several."""

    start: date
    end: date
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class StandalonePrice:
    """The mapping's standalone selling price: a point `price` per `basis`, or only a range when highly variable."""

    price: Money | None
    basis: SspBasis = SspBasis.EACH
    low: Money | None = None
    high: Money | None = None

    @property
    def highly_variable(self) -> bool:
        """No observable point price, only a range: the case for the residual approach (ASC 606-10-32-34(c))."""
        return self.price is None and (self.low is not None or self.high is not None)


@dataclass(frozen=True, slots=True)
class PerformanceObligation:
    obligation_id: str
    contract_id: str
    line_no: int
    product_code: str
    satisfaction: Satisfaction
    start: date
    end: date
    milestone: date | None  # when a point-in-time obligation is satisfied; None until delivered
    consideration: Money  # fixed consideration promised for the line, to the cent (zero for usage)
    quantities: tuple[QuantityPhase, ...]
    standalone: StandalonePrice
    revenue_account: str
    contract_liability_account: str
    usage: UsageTerms | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"obligation {self.obligation_id} ends ({self.end}) before it starts ({self.start})")
        if not self.consideration.is_rounded:
            raise ValueError(f"obligation {self.obligation_id}'s consideration {self.consideration} is not in cents")

    @property
    def currency(self) -> str:
        return self.consideration.currency

    @property
    def is_variable(self) -> bool:
        return self.satisfaction is Satisfaction.USAGE

    @property
    def days(self) -> int:
        """Length of the service period, both end dates inclusive."""
        return (self.end - self.start).days + 1

    def remaining_from(self, day: date, consideration: Money) -> PerformanceObligation:
        """The part still to be satisfied from `day` on, promised for `consideration` (a modification's view)."""
        if self.satisfaction is not Satisfaction.OVER_TIME or day <= self.start:
            return replace(self, consideration=consideration)
        phases = tuple(replace(p, start=max(p.start, day)) for p in self.quantities if p.end >= day) or (
            QuantityPhase(day, self.end, Decimal(0)),
        )
        return replace(self, start=day, consideration=consideration, quantities=phases)


def obligations_from_contract(contract: Contract) -> tuple[PerformanceObligation, ...]:
    return tuple(obligation_for_line(contract, line) for line in contract.lines)


def obligation_for_line(contract: Contract, line: ContractLine) -> PerformanceObligation:
    """The obligation for one line (also for a line an amendment adds; its service period says from when)."""
    mapping = line.mapping
    start, end, milestone = line.service_start, line.service_end, None
    if line.kind is LineKind.USAGE:
        satisfaction = Satisfaction.USAGE
    elif line.kind is LineKind.ONE_TIME and not mapping.distinct:
        satisfaction, start, end = Satisfaction.OVER_TIME, contract.term_start, contract.term_end
    elif line.kind is LineKind.ONE_TIME and mapping.revenue_treatment is not RevenueTreatment.RATABLE:
        satisfaction, milestone = Satisfaction.POINT_IN_TIME, line.delivered_on
    else:
        satisfaction = Satisfaction.OVER_TIME
    quantities = tuple(QuantityPhase(p.start, p.end, p.quantity) for p in line.ramp_phases) or (
        QuantityPhase(start, end, line.quantity),
    )
    consideration = line.committed_value(contract.currency).rounded()
    return PerformanceObligation(
        obligation_id=f"{contract.contract_id}#{line.line_no}",
        contract_id=contract.contract_id,
        line_no=line.line_no,
        product_code=line.product_code,
        satisfaction=satisfaction,
        start=start,
        end=end,
        milestone=milestone,
        consideration=consideration,
        quantities=quantities,
        standalone=StandalonePrice(mapping.ssp, mapping.ssp_basis, mapping.ssp_low, mapping.ssp_high),
        revenue_account=mapping.revenue_account,
        contract_liability_account=mapping.deferred_revenue_account,
        usage=line.usage,
    )
