"""Accounting calendars: the periods revenue is reported in. Calendar months by default, 4-4-5 as an option.

Period boundaries are computed once per calendar and kept as day ordinals, so that placing a day in its
period is a binary search and schedules never loop over days.
"""

from __future__ import annotations

import calendar as gregorian
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["AccountingCalendar", "OutsideCalendarError", "Period", "calendar_months", "fiscal_445"]


class OutsideCalendarError(ValueError):
    """A day or period the calendar does not cover; extend the calendar rather than guess a period."""


@dataclass(frozen=True, slots=True)
class Period:
    """One accounting period, both ends inclusive (UTC days)."""

    key: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class AccountingCalendar:
    """Contiguous periods in order. `start_ordinals` / `end_ordinals` are the hot-loop view of the same data."""

    name: str
    periods: tuple[Period, ...]
    start_ordinals: tuple[int, ...] = field(init=False, repr=False, compare=False)
    end_ordinals: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _by_key: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a calendar needs at least one period")
        for earlier, later in zip(self.periods, self.periods[1:], strict=False):
            if later.start != earlier.end + timedelta(days=1):
                raise ValueError(f"periods must be contiguous: {earlier.key} ends {earlier.end}, {later.key} starts")
        for period in self.periods:
            if period.end < period.start:
                raise ValueError(f"period {period.key} ends before it starts")
        # Frozen, but these are derived once here; object.__setattr__ is the documented way to do that.
        object.__setattr__(self, "start_ordinals", tuple(p.start.toordinal() for p in self.periods))
        object.__setattr__(self, "end_ordinals", tuple(p.end.toordinal() for p in self.periods))
        object.__setattr__(self, "_by_key", {p.key: i for i, p in enumerate(self.periods)})
        if len(self._by_key) != len(self.periods):
            raise ValueError("period keys repeat")

    @property
    def first_day(self) -> date:
        return self.periods[0].start

    @property
    def last_day(self) -> date:
        return self.periods[-1].end

    def index_of_day(self, day: date) -> int:
        """Index of the period containing `day`."""
        return self.index_of_ordinal(day.toordinal())

    def index_of_ordinal(self, ordinal: int) -> int:
        if ordinal < self.start_ordinals[0] or ordinal > self.end_ordinals[-1]:
            raise OutsideCalendarError(
                f"{date.fromordinal(ordinal)} is outside the {self.name} calendar ({self.first_day}..{self.last_day})"
            )
        return bisect_left(self.end_ordinals, ordinal)

    def period_of(self, day: date) -> Period:
        return self.periods[self.index_of_day(day)]

    def index_of(self, key: str) -> int:
        """Index of the period named `key` (e.g. "2027-03")."""
        try:
            return self._by_key[key]
        except KeyError:
            raise OutsideCalendarError(f"the {self.name} calendar has no period {key!r}") from None

    def period(self, key: str) -> Period:
        return self.periods[self.index_of(key)]


def calendar_months(first_day: date, last_day: date) -> AccountingCalendar:
    """Calendar months ("2027-01", ...) from the month containing `first_day` to the one containing `last_day`."""
    if last_day < first_day:
        raise ValueError(f"{last_day} is before {first_day}")
    periods: list[Period] = []
    year, month = first_day.year, first_day.month
    while (year, month) <= (last_day.year, last_day.month):
        days_in_month = gregorian.monthrange(year, month)[1]
        periods.append(Period(f"{year:04d}-{month:02d}", date(year, month, 1), date(year, month, days_in_month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return AccountingCalendar("calendar months", tuple(periods))


def fiscal_445(
    first_year_start: date,
    years: int,
    *,
    quarter: Sequence[int] = (4, 4, 5),
    long_years: frozenset[int] = frozenset(),
) -> AccountingCalendar:
    """A 52/53-week fiscal calendar of twelve periods whose weeks follow `quarter` (4-4-5, 4-5-4 or 5-4-4).

    Fiscal year n (1-based) starts where year n-1 ended; a year listed in `long_years` has 53 weeks, the extra
    week going to its last period, which is how such calendars keep the year end near the same date. Periods
    are named after the calendar year in which the fiscal year ends: "FY2027-P01".."FY2027-P12".
    """
    if years < 1:
        raise ValueError("years must be at least 1")
    if sorted(quarter) != [4, 4, 5]:
        raise ValueError(f"a quarter is 4+4+5 weeks in some order, not {tuple(quarter)}")
    weeks = list(quarter) * 4
    periods: list[Period] = []
    start = first_year_start
    for year_no in range(1, years + 1):
        extra_week = 7 if year_no in long_years else 0
        label = f"FY{(start + timedelta(days=7 * 52 + extra_week - 1)).year:04d}"
        for number, length in enumerate(weeks, start=1):
            extra = extra_week if number == len(weeks) else 0
            end = start + timedelta(days=7 * length + extra - 1)
            periods.append(Period(f"{label}-P{number:02d}", start, end))
            start = end + timedelta(days=1)
    return AccountingCalendar(f"fiscal {'-'.join(map(str, quarter))}", tuple(periods))
