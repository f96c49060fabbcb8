"""The waterfall chart: the reference year's figures, exactly, in a well-formed SVG; and the awkward shapes."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from canonical.money import Money, sum_money
from revenue.calendar import Period, calendar_months
from revenue.charts import BALANCE_LABEL, waterfall_svg, write_chart
from revenue.reports import (
    RollForward,
    RollForwardLine,
    Waterfall,
    WaterfallRow,
    deferred_revenue_rollforward,
    revenue_waterfall,
)
from tests.revenue.builders import usd
from tests.revenue.reference import run_reference_year

SVG = "{http://www.w3.org/2000/svg}"
FIGURE = re.compile(r": (-?\d+\.\d+) USD")


def reference_chart(*, amended: bool) -> tuple[Waterfall, RollForward, str]:
    year = run_reference_year(amended=amended)
    waterfall = revenue_waterfall(year.schedules, year.calendar, "2027-01", "2027-12", by_obligation=True)
    rollforward = deferred_revenue_rollforward(year.entries, year.calendar, "2027-01", "2027-12")
    return waterfall, rollforward, waterfall_svg(waterfall, rollforward, title="Northwind Analytics, 2027")


def figure(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text is not None
    match = FIGURE.search(title.text)
    assert match is not None, title.text
    return match.group(1)


def segments(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "segment"]


def balance_points(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}circle") if e.get("class") == "balance-point"]


def texts(root: ET.Element, kind: str) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text") if e.get("class") == kind]


def zero_line_y(root: ET.Element) -> float:
    (zero,) = [e for e in root.iter(f"{SVG}line") if e.get("class") == "zero"]
    return float(zero.get("y1", "nan"))


def synthetic(amounts: dict[str, list[str]], closings: list[str]) -> tuple[Waterfall, RollForward]:
    """A waterfall and roll-forward over the first len(closings) months of 2027, straight from figures."""
    periods = calendar_months(date(2027, 1, 1), date(2027, 12, 31)).periods[: len(closings)]
    money = {label: tuple(usd(a) for a in row) for label, row in amounts.items()}
    rows = tuple(WaterfallRow(label, row, sum_money(row, "USD")) for label, row in money.items())
    columns = tuple(sum_money((row.amounts[k] for row in rows), "USD") for k in range(len(periods)))
    total = WaterfallRow("Total", columns, sum_money(columns, "USD"))
    lines = tuple(total_line(period, usd(closing)) for period, closing in zip(periods, closings, strict=True))
    return Waterfall("USD", periods, rows, total), RollForward("USD", (), lines)


def total_line(period: Period, closing: Money) -> RollForwardLine:
    zero = usd(0)
    return RollForwardLine("Total", period, zero, zero, zero, closing, max(closing, zero), max(-closing, zero))


@pytest.mark.parametrize("amended", [False, True])
def test_reference_year_figures_are_exact(amended: bool) -> None:
    waterfall, _, svg = reference_chart(amended=amended)
    root = ET.fromstring(svg)

    drawn = {(e.get("data-row"), e.get("data-period")): figure(e) for e in segments(root)}
    expected = {
        (row.label, period.key): f"{amount.amount:f}"
        for row in waterfall.rows
        for period, amount in zip(waterfall.periods, row.amounts, strict=True)
        if not amount.is_zero
    }
    assert len(segments(root)) == len(expected) == (22 if not amended else 34)
    assert drawn == expected
    assert drawn[("CTR-006NW0000000001#2", "2027-02")] == "16043.48"
    bars = [e for e in root.iter(f"{SVG}g") if e.get("class") == "bar"]
    assert [figure(bar) for bar in bars] == [f"{a.amount:f}" for a in waterfall.total.amounts]
    assert texts(root, "period") == [f"2027-{m:02}" for m in range(1, 13)]
    (legend,) = [e for e in root.iter(f"{SVG}g") if e.get("class") == "legend"]
    assert [t.text for t in legend.iter(f"{SVG}text")] == [row.label for row in waterfall.rows] + [BALANCE_LABEL]


def test_balance_line_has_a_point_per_period_below_zero_for_an_asset() -> None:
    _, rollforward, svg = reference_chart(amended=False)
    root = ET.fromstring(svg)

    points = balance_points(root)
    polyline = root.find(f".//{SVG}polyline")
    assert polyline is not None
    assert len(polyline.get("points", "").split()) == len(points) == 12
    assert [figure(p) for p in points] == [f"{line.closing.amount:f}" for line in rollforward.totals]
    january, february = points[:2]
    assert figure(february) == "-332.34"
    # February's balance is a contract asset: drawn below the zero line, January's liability above it.
    assert float(january.get("cy", "nan")) < zero_line_y(root) < float(february.get("cy", "nan"))
    assert "-5,000" in texts(root, "tick")


def test_ticks_are_round_steps_covering_the_data() -> None:
    _, _, svg = reference_chart(amended=True)

    ticks = [Decimal(t.replace(",", "")) for t in texts(ET.fromstring(svg), "tick")]

    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and steps.pop().normalize().as_tuple().digits in {(1,), (2,), (5,)}
    assert ticks[0] <= Decimal("-368.56") and ticks[-1] >= Decimal("18460.44")


def test_same_input_same_bytes(tmp_path: Path) -> None:
    _, _, first = reference_chart(amended=True)
    _, _, second = reference_chart(amended=True)

    written = write_chart(tmp_path / "charts" / "waterfall.svg", first)

    assert first == second
    assert written.read_bytes() == first.encode("utf-8")
    assert first.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')


def test_single_period() -> None:
    waterfall, rollforward = synthetic({"platform": ["9083.98"]}, ["14916.02"])

    root = ET.fromstring(waterfall_svg(waterfall, rollforward, title="January"))

    assert [figure(s) for s in segments(root)] == ["9083.98"]
    assert [figure(p) for p in balance_points(root)] == ["14916.02"]
    assert texts(root, "period") == ["2027-01"]


def test_all_zero_draws_no_bars_and_no_nan() -> None:
    waterfall, rollforward = synthetic({"platform": ["0.00", "0.00"]}, ["0.00", "0.00"])

    svg = waterfall_svg(waterfall, rollforward, title="Nothing yet")
    root = ET.fromstring(svg)

    assert segments(root) == []
    assert texts(root, "tick") == ["0", "1"]
    assert len(balance_points(root)) == 2
    numbers = re.findall(r'"(-?\d+\.\d+)"', svg)
    assert numbers and all(math.isfinite(float(n)) for n in numbers)
    assert "nan" not in svg.lower()


def test_negative_amounts_stack_below_zero() -> None:
    waterfall, rollforward = synthetic(
        {"platform": ["500.00", "300.00"], "reversal": ["-200.00", "100.00"]}, ["-800.00", "0.00"]
    )

    root = ET.fromstring(waterfall_svg(waterfall, rollforward, title="A reversal"))

    zero = zero_line_y(root)
    reversal = next(s for s in segments(root) if s.get("data-row") == "reversal" and s.get("data-period") == "2027-01")
    assert figure(reversal) == "-200.00"
    assert float(reversal.get("y", "nan")) == pytest.approx(zero)  # hangs from the zero line
    assert float(balance_points(root)[0].get("cy", "nan")) > zero
    assert "(a contract asset)" in (balance_points(root)[0].findtext(f"{SVG}title") or "")
    assert texts(root, "tick")[0].startswith("-")


def test_reports_must_cover_the_same_periods() -> None:
    waterfall, _ = synthetic({"platform": ["1.00", "2.00"]}, ["0.00", "0.00"])
    _, shorter = synthetic({"platform": ["1.00"]}, ["0.00"])

    with pytest.raises(ValueError, match="different periods"):
        waterfall_svg(waterfall, shorter, title="mismatch")
