"""Billing periods: boundaries anchored on the billing cycle anchor, month ends clamped as Stripe does
(an anchor on the 31st bills on Feb 28, then Mar 31), all in UTC to the second."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

_MONTHS = {"month": 1, "year": 12}
_DAYS = {"day": 1, "week": 7}


def to_datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def to_timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def boundary(anchor: int, interval: str, count: int, steps: int) -> int:
    """The anchor moved `steps` intervals (of `count` units each) forward or back."""
    start = to_datetime(anchor)
    if interval in _DAYS:
        return to_timestamp(start + timedelta(days=_DAYS[interval] * count * steps))
    months = _MONTHS[interval] * count * steps
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return to_timestamp(start.replace(year=year, month=month, day=day))


def next_boundary_after(anchor: int, interval: str, count: int, moment: int) -> int:
    """The first boundary strictly after `moment`."""
    steps = _estimate_steps(anchor, interval, count, moment)
    while boundary(anchor, interval, count, steps) <= moment:
        steps += 1
    while steps > -(10**6) and boundary(anchor, interval, count, steps - 1) > moment:
        steps -= 1
    return boundary(anchor, interval, count, steps)


def previous_boundary(anchor: int, interval: str, count: int, moment: int) -> int:
    """The last boundary at or before `moment`."""
    steps = _estimate_steps(anchor, interval, count, moment)
    while boundary(anchor, interval, count, steps) > moment:
        steps -= 1
    while boundary(anchor, interval, count, steps + 1) <= moment:
        steps += 1
    return boundary(anchor, interval, count, steps)


def period_containing(anchor: int, start: int, interval: str, count: int, moment: int) -> tuple[int, int]:
    """The billing period around `moment`: from the later of the last boundary and the subscription's start,
    to the next boundary. Before the anchor (a future anchor, or a trial's end) the period runs from the start
    to the anchor."""
    if moment < anchor:
        return start, anchor
    return max(start, previous_boundary(anchor, interval, count, moment)), next_boundary_after(
        anchor, interval, count, moment
    )


def interval_seconds_estimate(interval: str, count: int) -> int:
    return {"day": 86400, "week": 7 * 86400, "month": 31 * 86400, "year": 366 * 86400}[interval] * count


def _estimate_steps(anchor: int, interval: str, count: int, moment: int) -> int:
    average = {"day": 86400.0, "week": 604800.0, "month": 2629746.0, "year": 31556952.0}[interval] * count
    return int((moment - anchor) // average)


def short_date(timestamp: int) -> str:
    """`15 Jul 2027`, as Stripe writes dates in proration descriptions."""
    moment = to_datetime(timestamp)
    return f"{moment.day} {moment.strftime('%b %Y')}"
