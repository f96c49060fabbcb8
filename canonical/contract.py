"""The contract as q2c carries it between systems: lines, terms, ramp phases, service periods.

Recurring prices are per unit per month, as quoted in the CRM; the billing platform turns them into
subscription items at the line's billing frequency.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.customer import Customer
from canonical.money import Money, sum_money
from canonical.product import LineKind, ProductMapping

HUNDRED = Decimal(100)


class BillingFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


def service_months(start: date, end_inclusive: date) -> Decimal:
    """Whole months from `start`, plus the remainder as a fraction of the month-long period it falls in.

    2027-01-01..2027-12-31 is exactly 12; it is used for contract value, not for billing prorations, which the
    billing platform computes to the second. Months are anchored on `start` (Jan 31 → Feb 28 → Mar 31), and
    the remainder is divided by the length of its own anchored period, so it is always below one month.
    """
    months, cursor = 0, start
    while True:
        following = _add_months(start, months + 1)
        if following is None or following - timedelta(days=1) > end_inclusive:
            break
        months, cursor = months + 1, following
    remaining_days = (end_inclusive - cursor).days + 1
    if remaining_days <= 0:
        return Decimal(months)
    period_days = (following - cursor).days if following is not None else 31
    return Decimal(months) + Decimal(remaining_days) / Decimal(period_days)


def _add_months(day: date, months: int) -> date | None:
    """`day` moved `months` ahead, clamped to the month's end; None past the calendar's last year."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > date.max.year:
        return None
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class RampPhase(BaseModel):
    """A stretch of the service period with its own quantity and price (e.g. 50 seats, then 100)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    quantity: Decimal = Field(gt=0)
    net_unit_price: Money

    @model_validator(mode="after")
    def _end_not_before_start(self) -> RampPhase:
        if self.end < self.start:
            raise ValueError(f"ramp phase ends ({self.end}) before it starts ({self.start})")
        return self


class UsageTerms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str = Field(min_length=1)
    included_per_month: Decimal = Field(ge=0)
    unit_price_over_included: Money


class ContractLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int = Field(ge=1)
    product_code: str = Field(min_length=1)
    kind: LineKind
    quantity: Decimal = Field(ge=0)
    list_unit_price: Money | None = None
    net_unit_price: Money | None = None
    discount_percent: Decimal = Field(Decimal(0), ge=0, le=100)
    amount: Money | None = Field(None, description="Price of a one-time line")
    billing_frequency: BillingFrequency = BillingFrequency.MONTHLY
    service_start: date
    service_end: date
    ramp_phases: tuple[RampPhase, ...] = ()
    usage: UsageTerms | None = None
    delivered_on: date | None = Field(None, description="Delivery milestone of a point-in-time obligation")
    mapping: ProductMapping

    @model_validator(mode="after")
    def _check(self) -> ContractLine:
        if self.service_end < self.service_start:
            raise ValueError(f"service_end {self.service_end} is before service_start {self.service_start}")
        if self.mapping.product_code != self.product_code or self.mapping.kind != self.kind:
            raise ValueError(f"mapping is for {self.mapping.product_code} ({self.mapping.kind})")
        {
            LineKind.RECURRING: self._check_recurring,
            LineKind.ONE_TIME: self._check_one_time,
            LineKind.USAGE: self._check_usage,
        }[self.kind]()
        if len(self.currencies()) > 1:
            raise ValueError(f"prices in different currencies: {', '.join(sorted(self.currencies()))}")
        return self

    def _check_recurring(self) -> None:
        if self.net_unit_price is None:
            raise ValueError("a recurring line needs net_unit_price")
        if self.quantity <= 0:
            raise ValueError("a recurring line needs a quantity above zero")
        for phase in self.ramp_phases:
            if phase.start < self.service_start or phase.end > self.service_end:
                raise ValueError(f"ramp phase {phase.start}..{phase.end} lies outside the service period")
        for earlier, later in zip(self.ramp_phases, self.ramp_phases[1:], strict=False):
            if (later.start - earlier.end).days != 1:
                raise ValueError(f"ramp phases must be contiguous: {earlier.end} then {later.start}")

    def _check_one_time(self) -> None:
        if self.amount is None:
            raise ValueError("a one-time line needs amount")
        if self.amount.is_negative:
            raise ValueError("a one-time line's amount cannot be negative")

    def _check_usage(self) -> None:
        if self.usage is None:
            raise ValueError("a usage line needs usage terms")

    def currencies(self) -> set[str]:
        prices = [self.list_unit_price, self.net_unit_price, self.amount]
        prices += [p.net_unit_price for p in self.ramp_phases]
        if self.usage is not None:
            prices.append(self.usage.unit_price_over_included)
        return {p.currency for p in prices if p is not None}

    def committed_value(self, currency: str) -> Money:
        """What the customer is committed to pay for this line (usage is variable, so it commits nothing)."""
        if self.kind is LineKind.ONE_TIME and self.amount is not None:
            return self.amount
        if self.kind is LineKind.RECURRING and self.net_unit_price is not None:
            if self.ramp_phases:
                return sum_money(
                    (p.net_unit_price * p.quantity * service_months(p.start, p.end) for p in self.ramp_phases),
                    currency,
                )
            months = service_months(self.service_start, self.service_end)
            return self.net_unit_price * self.quantity * months
        return Money.zero(currency)


class Contract(BaseModel):
    """A signed deal, version 1 at closed-won; amendments create later versions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contract_id: str = Field(min_length=1)
    version: int = Field(1, ge=1)
    opportunity_id: str = Field(min_length=1)
    owner: str = Field(min_length=1, description="The deal owner in the CRM; may not approve their own deal")
    closed_won_on: date
    customer: Customer
    currency: str
    term_start: date
    term_end: date
    lines: tuple[ContractLine, ...] = Field(min_length=1)
    mapping_version: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Contract:
        if self.term_end < self.term_start:
            raise ValueError(f"term_end {self.term_end} is before term_start {self.term_start}")
        if self.customer.currency != self.currency:
            raise ValueError(f"customer currency {self.customer.currency} differs from {self.currency}")
        numbers = [line.line_no for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line numbers repeat")
        for line in self.lines:
            if line.currencies() - {self.currency}:
                raise ValueError(f"line {line.line_no} is priced in {line.currencies()}, not {self.currency}")
            if line.service_start < self.term_start or line.service_end > self.term_end:
                raise ValueError(f"line {line.line_no}'s service period lies outside the contract term")
        return self

    @property
    def total_contract_value(self) -> Money:
        """Committed value of all lines, rounded to the currency's minor unit."""
        return sum_money((line.committed_value(self.currency) for line in self.lines), self.currency).rounded()

    @property
    def largest_discount_percent(self) -> Decimal:
        return max((line.discount_percent for line in self.lines), default=Decimal(0))


def discount_percent(list_price: Decimal, net_price: Decimal) -> Decimal:
    """Discount of the net unit price off the list unit price, in percent, to two decimals."""
    if list_price == 0:
        return Decimal(0)
    with localcontext() as exact:
        exact.prec = 100  # absurd prices must give an absurd (and then rejected) discount, not a crash
        return ((list_price - net_price) / list_price * HUNDRED).quantize(Decimal("0.01"))
