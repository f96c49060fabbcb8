"""Revenue waterfall and deferred-revenue roll-forward of the reference year, as data, text and CSV."""

from __future__ import annotations

import csv
import io

from canonical.money import sum_money
from revenue.reports import (
    deferred_revenue_rollforward,
    revenue_waterfall,
    rollforward_csv,
    rollforward_text,
    waterfall_csv,
    waterfall_text,
)
from tests.revenue.builders import usd
from tests.revenue.reference import run_reference_year


def test_waterfall_by_contract_and_obligation() -> None:
    year = run_reference_year(amended=False)

    waterfall = revenue_waterfall(year.schedules, year.calendar, "2027-01", "2027-12")
    detail = revenue_waterfall(year.schedules, year.calendar, "2027-01", "2027-12", by_obligation=True)

    assert [row.label for row in waterfall.rows] == ["CTR-006NW0000000001"]
    # February: 8,204.88 of platform, the onboarding milestone (16,043.48) and 400.00 of usage.
    assert waterfall.total.amounts[:2] == (usd("9083.98"), usd("24648.36"))
    assert waterfall.total.total == usd(134400)  # 123,000 fixed + 11,400 usage
    assert len(detail.rows) == 3 and detail.total == waterfall.total
    assert all(row.total == sum_money(row.amounts, "USD") for row in detail.rows)


def test_rollforward_reconciles_to_the_ledger() -> None:
    """Opening + billings − recognised = closing, and the closing balance is the ledger's contract liability
    less its contract asset at every month end."""
    year = run_reference_year(amended=True)

    rollforward = deferred_revenue_rollforward(year.entries, year.calendar, "2027-01", "2027-12")

    january, february = rollforward.totals[:2]
    assert (january.opening, january.billings, january.recognised, january.closing) == (
        usd(0),
        usd(24000),
        usd("9083.98"),
        usd("14916.02"),
    )
    assert (february.billings, february.recognised, february.closing) == (usd(9000), usd("24248.36"), usd("-332.34"))
    assert february.contract_asset == usd("332.34")
    for line in rollforward.lines:
        assert line.opening + line.billings - line.recognised == line.closing
        balances = year.month_end_balances[line.period.key]
        assert line.closing == balances.contract_liability - balances.contract_asset
    assert rollforward.totals[-1].closing == usd(0)


def test_text_and_csv() -> None:
    year = run_reference_year(amended=False)
    waterfall = revenue_waterfall(year.schedules, year.calendar, "2027-01", "2027-03")
    rollforward = deferred_revenue_rollforward(year.entries, year.calendar, "2027-01", "2027-03")

    text = waterfall_text(waterfall)
    rows = list(csv.reader(io.StringIO(waterfall_csv(waterfall))))

    assert text.splitlines()[0].split() == ["contract", "2027-01", "2027-02", "2027-03", "total"]
    assert "24,648.36" in text
    assert rows[0] == ["contract", "2027-01", "2027-02", "2027-03", "total"]
    assert rows[-1] == ["Total", "9,083.98", "24,648.36", "10,083.98", "43,816.32"]
    assert "-332.34" in rollforward_text(rollforward, totals_only=True)
    assert len(list(csv.reader(io.StringIO(rollforward_csv(rollforward))))) == 1 + 3 + 3
