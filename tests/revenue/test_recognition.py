"""Schedules: daily ratable with cumulative rounding, monthly-equal, point in time, usage; calendars."""

from __future__ import annotations

from datetime import date

import pytest

from revenue.allocation import allocate_transaction_price
from revenue.calendar import OutsideCalendarError, calendar_months, fiscal_445
from revenue.obligations import Satisfaction, obligations_from_contract
from revenue.recognition import Pattern, RevenuePlan, Tranche, plan_contract, plan_obligation, recognised_by, schedule
from revenue.usage import price_month_of_usage
from tests.revenue.builders import obligation, usd
from tests.revenue.reference import reference_contract, usage_by_month

YEAR = calendar_months(date(2027, 1, 1), date(2027, 12, 31))


def reference_plans(pattern: Pattern = Pattern.RATABLE_DAILY) -> tuple[RevenuePlan, ...]:
    obligations = obligations_from_contract(reference_contract())
    charges = [price_month_of_usage(obligations[2], month, calls) for month, calls in usage_by_month().items()]
    return plan_contract(allocate_transaction_price(obligations), pattern, charges)


def figures(plan: RevenuePlan, calendar=YEAR) -> list[str]:
    return [str(line.amount.amount) for line in schedule(plan, calendar).lines]


def test_reference_platform_daily_with_cumulative_rounding() -> None:
    """106,956.52 over 365 days: January = round(106,956.52 x 31/365) = 9,083.98; each later month is the
    rounded cumulative figure less the one before, so December lands on the allocation exactly."""
    platform = reference_plans()[0]
    lines = schedule(platform, YEAR).lines

    assert figures(platform)[:6] == ["9083.98", "8204.88", "9083.98", "8790.95", "9083.98", "8790.94"]
    assert lines[5].cumulative == usd("53038.71")  # round(10,695,652 cents x 181 / 365)
    assert lines[-1].cumulative == usd("106956.52")
    assert schedule(platform, YEAR).total == platform.allocated


def test_onboarding_on_its_milestone_and_usage_in_its_month() -> None:
    _, onboarding, api = reference_plans()

    assert schedule(onboarding, YEAR).amount_in("2027-02") == usd("16043.48")
    assert schedule(onboarding, YEAR).total == usd("16043.48")
    usage = schedule(api, YEAR)
    # 0.002 a call over 1,000,000 a month: February's 1,200,000 calls earn 400.00; January's 800,000 nothing.
    assert [usage.amount_in(m) for m in ("2027-01", "2027-02", "2027-05")] == [usd(0), usd(400), usd(2000)]
    assert usage.total == api.allocated == usd(11400)


def test_monthly_equal_splits_a_calendar_year_in_twelve() -> None:
    platform = reference_plans(Pattern.MONTHLY_EQUAL)[0]

    # 106,956.52 / 12 = 8,913.043...; cumulative rounding spreads the odd cents without drift.
    assert figures(platform) == ["8913.04", "8913.05", "8913.04", "8913.04", "8913.05", "8913.04"] * 2
    assert schedule(platform, YEAR).total == usd("106956.52")


def test_monthly_equal_prorates_a_part_month_by_days() -> None:
    """Mid-month start: January counts 17/31 of a month, then whole months, then 14/31 of July: 6 months."""
    service = obligation(
        "S",
        ssp=1,
        consideration=600,
        satisfaction=Satisfaction.OVER_TIME,
        start=date(2027, 1, 15),
        end=date(2027, 7, 14),
    )
    plan = plan_obligation(allocate_transaction_price([service]).lines[0], Pattern.MONTHLY_EQUAL)

    assert figures(plan)[:7] == ["54.84", "100.00", "100.00", "100.00", "100.00", "100.00", "45.16"]


def test_a_fiscal_445_calendar() -> None:
    fiscal = fiscal_445(date(2027, 1, 3), 2, long_years=frozenset({2}))
    weeks = [p.days // 7 for p in fiscal.periods]

    assert weeks[:12] == [4, 4, 5] * 4 and weeks[23] == 6  # the 53rd week goes to the long year's last period
    assert fiscal.periods[0].key == "FY2028-P01" and fiscal.periods[12].start == date(2028, 1, 2)
    extended = fiscal_445(date(2026, 12, 27), 2)
    platform = reference_plans()[0]
    assert schedule(platform, extended).total == usd("106956.52")
    # The first period (27 Dec - 23 Jan) holds 23 days of service: round(106,956.52 x 23/365).
    assert schedule(platform, extended).lines[0].amount == usd("6739.73")


def test_recognised_by_any_day() -> None:
    platform = reference_plans()[0]

    assert recognised_by(platform, date(2027, 7, 14)) == usd("57141.15")  # round(10,695,652 x 195/365) cents
    assert recognised_by(platform, date(2026, 12, 31)) == usd(0)
    assert recognised_by(platform, date(2030, 1, 1)) == usd("106956.52")


def test_a_stopped_tranche_keeps_its_history() -> None:
    tranche = Tranche(usd("365.00"), Pattern.RATABLE_DAILY, date(2027, 1, 1), date(2027, 12, 31))
    stopped = Tranche(usd("365.00"), Pattern.RATABLE_DAILY, date(2027, 1, 1), date(2027, 12, 31), date(2027, 1, 10))

    assert stopped.recognisable == usd(10)
    plan = RevenuePlan("C1#x", "C1", usd(10), (stopped,))
    assert schedule(plan, YEAR).minor_units == (1000,)
    assert tranche.units_by(date(2027, 1, 10)) == stopped.units_by(date(2027, 12, 31))


def test_an_undelivered_milestone_awaits() -> None:
    pending = obligation("P", ssp=10, consideration=10, milestone=None)
    plan = plan_obligation(allocate_transaction_price([pending]).lines[0])

    assert plan.tranches == () and plan.awaiting_milestone == usd(10)
    assert schedule(plan, YEAR).total == usd(0)


def test_a_schedule_outside_its_calendar_is_refused() -> None:
    with pytest.raises(OutsideCalendarError, match="outside the calendar months calendar"):
        schedule(reference_plans()[0], calendar_months(date(2027, 1, 1), date(2027, 6, 30)))
