"""Throughput check, not a test: `python -m revenue.benchmark [contracts] [workers]`.

Builds `contracts` one-obligation contracts, each a 36-month subscription starting on some day of 2027 (so most
schedules touch 37 calendar months), then times each stage: obligations and allocation, plans, schedules.
Figures are printed; nothing is asserted, since they depend on the machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from canonical.money import Money
from canonical.product import SspBasis
from revenue.allocation import allocate_transaction_price
from revenue.calendar import AccountingCalendar, calendar_months
from revenue.obligations import PerformanceObligation, QuantityPhase, Satisfaction, StandalonePrice
from revenue.recognition import RevenuePlan, plan_contract, schedule

T = TypeVar("T")
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


def timed(label: str, work: Callable[[], T]) -> T:
    began = time.perf_counter()
    result = work()
    print(f"{label:<44} {time.perf_counter() - began:7.2f} s")
    return result


def main(contracts: int = 100_000, workers: int = 1) -> None:
    print(f"{contracts:,} contracts, {workers} worker(s)")
    plans = timed("obligations + allocation + plans", lambda: plans_for(0, contracts))
    lines = timed("schedules (one process)", lambda: lines_for(plans))
    print(f"{lines:,} schedule lines")
    if workers > 1:
        size = -(-contracts // workers)
        with ProcessPoolExecutor(workers) as pool:

            def fan_out() -> int:
                starts = range(0, contracts, size)
                return sum(pool.map(_plans_and_lines, starts, [min(size, contracts - s) for s in starts]))

            timed(f"plans + schedules ({workers} processes)", fan_out)


def _plans_and_lines(first: int, count: int) -> int:
    return lines_for(plans_for(first, count))


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
