"""The generated book the revenue engine's benchmark runs (`q2c bench revenue-engine`, `bench/revenue_engine.py`).

Contract `n` has one obligation: a 36-month subscription of 1-500 seats starting on day `n % 365` of 2027 (so
most schedules touch 37 calendar months). The book is built from its numbers alone, so any process can build
its own slice of it.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from canonical.money import Money
from canonical.product import SspBasis
from revenue.allocation import allocate_transaction_price
from revenue.calendar import AccountingCalendar, calendar_months
from revenue.obligations import PerformanceObligation, QuantityPhase, Satisfaction, StandalonePrice
from revenue.recognition import RevenuePlan, plan_contract, schedule

CALENDAR: AccountingCalendar = calendar_months(date(2027, 1, 1), date(2030, 12, 31))


def subscription(n: int) -> PerformanceObligation:
    start = date(2027, 1, 1) + timedelta(days=n % 365)
    end = start.replace(year=start.year + 3) - timedelta(days=1)  # 2027 has no 29 February to trip on
    seats = Decimal(1 + n % 500)
    return PerformanceObligation(
        obligation_id=f"C{n}#1",
        contract_id=f"C{n}",
        line_no=1,
        product_code="PLAT-SEAT",
        satisfaction=Satisfaction.OVER_TIME,
        start=start,
        end=end,
        milestone=None,
        consideration=Money.from_minor_units(int(seats) * 9000 * 36, "USD"),
        quantities=(QuantityPhase(start, end, seats),),
        standalone=StandalonePrice(Money.of("1200.00", "USD"), SspBasis.UNIT_PER_YEAR),
        revenue_account="4000",
        contract_liability_account="2400",
    )


def plans_for(first: int, count: int) -> list[RevenuePlan]:
    return [
        plan
        for n in range(first, first + count)
        for plan in plan_contract(allocate_transaction_price([subscription(n)]))
    ]


def lines_for(plans: list[RevenuePlan]) -> int:
    return sum(len(schedule(plan, CALENDAR).minor_units) for plan in plans)


def book_lines(first: int, count: int) -> int:
    """Contracts `first` .. `first + count - 1` of the book, from obligations to schedule lines: the lines made."""
    return lines_for(plans_for(first, count))
