"""Step 5: recognise revenue as obligations are satisfied, period by period.

An obligation's `RevenuePlan` is a few `Tranche`s -- one at inception; a modification ends tranches and adds
new ones, so history is never restated. A `Schedule` is the plan laid over an accounting calendar.

Ratable tranches are daily by default, over the service period inclusive of both end dates, with cumulative
rounding: recognised to date = round(amount x days elapsed / days), and a period's revenue is that minus what
was recognised before. Rounding never drifts, and the last period lands exactly on the amount. Days elapsed at
a period end are one subtraction of day ordinals, so schedules never loop over days, and the hot loop is
integer minor units; the API speaks `Money`.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from itertools import chain
from operator import sub

from canonical.money import Money, sum_money
from revenue.allocation import AllocatedObligation, Allocation
from revenue.calendar import AccountingCalendar, Period
from revenue.obligations import Satisfaction
from revenue.rounding import round_fraction, round_half_up
from revenue.usage import UsageCharge

__all__ = [
    "Pattern",
    "RevenuePlan",
    "Schedule",
    "ScheduleLine",
    "Tranche",
    "plan_contract",
    "plan_obligation",
    "plan_usage",
    "recognised_by",
    "schedule",
]


class Pattern(StrEnum):
    RATABLE_DAILY = "ratable_daily"
    MONTHLY_EQUAL = "monthly_equal"  # equal per calendar month; a part month by its share of days
    POINT_IN_TIME = "point_in_time"


@dataclass(frozen=True, slots=True)
class Tranche:
    """`amount` recognised on `pattern` from `start` to `end`; a point-in-time tranche has start == end.

    `stops_after` ends the tranche early without restating it: what it recognised up to that day stays, the
    rest is never recognised (a prospective modification moved it to a new tranche).
    """

    amount: Money
    pattern: Pattern
    start: date
    end: date
    stops_after: date | None = None
    _units: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a tranche cannot end ({self.end}) before it starts ({self.start})")
        if self.pattern is Pattern.POINT_IN_TIME and self.start != self.end:
            raise ValueError("a point-in-time tranche starts and ends on its milestone")
        object.__setattr__(self, "_units", self.amount.to_minor_units())  # refuses an amount not in cents

    @property
    def last_day(self) -> date:
        """The last day this tranche recognises anything on."""
        return self.end if self.stops_after is None else min(self.end, self.stops_after)

    def units_by(self, day: date) -> int:
        """Minor units recognised by the end of `day`."""
        if day < self.start:
            return 0
        cut = min(day, self.last_day)
        if cut < self.start:
            return 0
        if self.pattern is Pattern.POINT_IN_TIME:
            return self._units
        if self.pattern is Pattern.RATABLE_DAILY:
            return round_half_up(self._units * ((cut - self.start).days + 1), (self.end - self.start).days + 1)
        return round_fraction(self._units * _months_served(self.start, cut) / _months_served(self.start, self.end))

    @property
    def recognisable(self) -> Money:
        return Money.from_minor_units(self.units_by(self.last_day), self.amount.currency)


@dataclass(frozen=True, slots=True)
class RevenuePlan:
    """How one obligation's allocation becomes revenue. `allocated - total` awaits an undelivered milestone."""

    obligation_id: str
    contract_id: str
    allocated: Money
    tranches: tuple[Tranche, ...]

    @property
    def currency(self) -> str:
        return self.allocated.currency

    @property
    def total(self) -> Money:
        return sum_money((t.recognisable for t in self.tranches), self.currency)

    @property
    def awaiting_milestone(self) -> Money:
        return self.allocated - self.total


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    period: Period
    amount: Money
    cumulative: Money


@dataclass(frozen=True, slots=True)
class Schedule:
    """Revenue per period from `calendar.periods[first_index]` on; amounts held as integer minor units."""

    obligation_id: str
    contract_id: str
    currency: str
    calendar: AccountingCalendar = field(repr=False)
    first_index: int
    minor_units: tuple[int, ...]

    @property
    def periods(self) -> tuple[Period, ...]:
        return self.calendar.periods[self.first_index : self.first_index + len(self.minor_units)]

    @property
    def lines(self) -> tuple[ScheduleLine, ...]:
        lines: list[ScheduleLine] = []
        cumulative = 0
        for period, units in zip(self.periods, self.minor_units, strict=True):
            cumulative += units
            lines.append(ScheduleLine(period, self._money(units), self._money(cumulative)))
        return tuple(lines)

    @property
    def total(self) -> Money:
        return self._money(sum(self.minor_units))

    def amount_in(self, period_key: str) -> Money:
        offset = self.calendar.index_of(period_key) - self.first_index
        return self._money(self.minor_units[offset] if 0 <= offset < len(self.minor_units) else 0)

    def cumulative_through(self, period_key: str) -> Money:
        """Revenue recognised by the end of the period: what a period close should have booked to date."""
        offset = self.calendar.index_of(period_key) - self.first_index
        return self._money(sum(self.minor_units[: max(offset + 1, 0)]))

    def _money(self, units: int) -> Money:
        return Money.from_minor_units(units, self.currency)


def plan_obligation(line: AllocatedObligation, pattern: Pattern = Pattern.RATABLE_DAILY) -> RevenuePlan:
    """The inception plan of a fixed-consideration obligation: one tranche of its allocated amount."""
    obligation = line.obligation
    tranches: tuple[Tranche, ...] = ()
    if obligation.satisfaction is Satisfaction.OVER_TIME:
        tranches = (Tranche(line.amount, pattern, obligation.start, obligation.end),)
    elif obligation.satisfaction is Satisfaction.POINT_IN_TIME and obligation.milestone is not None:
        tranches = (Tranche(line.amount, Pattern.POINT_IN_TIME, obligation.milestone, obligation.milestone),)
    elif obligation.satisfaction is Satisfaction.USAGE:
        raise ValueError(f"{obligation.obligation_id} is usage: plan it from its charges with plan_usage")
    return RevenuePlan(obligation.obligation_id, obligation.contract_id, line.amount, tranches)


def plan_usage(line: AllocatedObligation, charges: Iterable[UsageCharge]) -> RevenuePlan:
    """Usage revenue in the period it occurs: all the variable consideration goes to this obligation (32-40)."""
    obligation = line.obligation
    own = [c for c in charges if c.obligation_id == obligation.obligation_id]
    tranches = tuple(Tranche(c.amount, Pattern.POINT_IN_TIME, c.occurred_on, c.occurred_on) for c in own)
    allocated = sum_money((c.amount for c in own), obligation.currency)
    return RevenuePlan(obligation.obligation_id, obligation.contract_id, allocated, tranches)


def plan_contract(
    allocation: Allocation, pattern: Pattern = Pattern.RATABLE_DAILY, usage: Sequence[UsageCharge] = ()
) -> tuple[RevenuePlan, ...]:
    return tuple(
        [
            plan_usage(line, usage) if line.obligation.is_variable else plan_obligation(line, pattern)
            for line in allocation.lines
        ]
    )


def recognised_by(plan: RevenuePlan, day: date) -> Money:
    """Revenue the plan has recognised by the end of `day` (independent of any reporting calendar)."""
    return Money.from_minor_units(sum(t.units_by(day) for t in plan.tranches), plan.currency)


def schedule(plan: RevenuePlan, calendar: AccountingCalendar) -> Schedule:
    """The plan's revenue per period of `calendar`; sums exactly to `plan.total`."""
    spans = [_span(t, calendar) for t in plan.tranches]
    spans = [span for span in spans if span[0].start <= span[0].last_day]
    if not spans:
        return Schedule(plan.obligation_id, plan.contract_id, plan.currency, calendar, 0, ())
    if len(spans) == 1:  # most plans (every one before a modification): its running total is the schedule's
        first, cumulative = spans[0][1], _cumulative_units(*spans[0], calendar)
    else:
        first, cumulative = _cumulative_of_tranches(spans, calendar)
    # Each period's amount is its cumulative figure less the one before: one pass, no per-line rounding.
    amounts = tuple(map(sub, cumulative, chain((0,), cumulative)))
    return Schedule(plan.obligation_id, plan.contract_id, plan.currency, calendar, first, amounts)


def _span(tranche: Tranche, calendar: AccountingCalendar) -> tuple[Tranche, int, int]:
    """The tranche with the indices of the periods holding its first and last days."""
    return tranche, calendar.index_of_day(tranche.start), calendar.index_of_day(tranche.last_day)


def _cumulative_of_tranches(
    spans: list[tuple[Tranche, int, int]], calendar: AccountingCalendar
) -> tuple[int, list[int]]:
    """The first period index and the units recognised by the end of each period, all tranches together."""
    first = min(s[1] for s in spans)
    cumulative = [0] * (max(s[2] for s in spans) - first + 1)
    for tranche, start_index, last_index in spans:
        running = _cumulative_units(tranche, start_index, last_index, calendar)
        offset = start_index - first
        for k, units in enumerate(running):
            cumulative[offset + k] += units
        for k in range(offset + len(running), len(cumulative)):
            cumulative[k] += running[-1]  # after its last period a tranche stays at its final figure
    return first, cumulative


def _cumulative_units(tranche: Tranche, first: int, last: int, calendar: AccountingCalendar) -> list[int]:
    """Units recognised by the end of each period first..last (the hot loop of every schedule).

    Ratable: round-half-up(units x days elapsed / days), as `round_half_up` computes it, on the magnitude so
    that a negative tranche mirrors a positive one. With `e` a period's end ordinal, days elapsed are
    `e - start + 1`, so the numerator `2|units|(e - start + 1) + days` is `2|units| e + offset`: one multiply,
    add and floor division per period. Only the last period can reach past the tranche's last day (the earlier
    ones end before the period holding it begins), so it alone is capped.
    """
    if tranche.pattern is not Pattern.RATABLE_DAILY:
        return [tranche.units_by(calendar.periods[k].end) for k in range(first, last + 1)]
    units, start = tranche._units, tranche.start.toordinal()
    days = tranche.end.toordinal() - start + 1
    cap = tranche.last_day.toordinal() - start + 1
    magnitude, twice_days = 2 * abs(units), 2 * days
    offset = magnitude * (1 - start) + days
    running = [(magnitude * end + offset) // twice_days for end in calendar.end_ordinals[first:last]]
    running.append((magnitude * cap + days) // twice_days)
    return running if units >= 0 else [-r for r in running]


def _months_served(start: date, last: date) -> Fraction:
    """Calendar months from `start` to `last` inclusive, a part month counted by its share of days."""
    months, cursor = Fraction(0), start
    while cursor <= last:
        days_in_month = gregorian.monthrange(cursor.year, cursor.month)[1]
        month_end = cursor.replace(day=days_in_month)
        months += Fraction((min(month_end, last) - cursor).days + 1, days_in_month)
        cursor = month_end + timedelta(days=1)
    return months
