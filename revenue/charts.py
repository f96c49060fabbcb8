"""The revenue waterfall and the deferred-revenue roll-forward as one SVG chart.

Stacked bars show each period's recognised revenue per waterfall row; a line shows the closing net contract
position (contract liability − contract asset) from the roll-forward's total lines, below zero when it is an asset.
Amounts stay `Decimal`: they become floats only as pixel coordinates, and every printed figure (tick labels,
tooltips) is the Decimal itself, so a tooltip reads exactly as the waterfall table does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from canonical.money import Money
from revenue.calendar import Period
from revenue.reports import RollForward, Waterfall

__all__ = ["BALANCE_LABEL", "waterfall_svg", "write_chart"]

BALANCE_LABEL = "Closing deferred revenue"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
TOP, BOTTOM, LEFT = 56.0, 48.0, 96.0  # room for the title, the period labels and the amount ticks
PLOT_HEIGHT, PLOT_MIN_WIDTH, SLOT_MIN_WIDTH = 320.0, 720.0, 56.0  # a slot fits a "2027-01" label
BAR_MAX_WIDTH = 64.0  # so that a chart of one or two periods still reads as bars, not blocks
CHARACTER_WIDTH = 7.0  # roughly one character at 12px sans-serif, to size the legend column
ROUGH_TICK_COUNT = 8  # at most about this many steps between the lowest and highest tick
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
BALANCE_COLOUR = "#222222"
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class _Scale:
    """Amounts → vertical pixels. `low` < `high` always (an all-zero chart still spans one step), so no ÷0."""

    low: Decimal
    high: Decimal
    step: Decimal
    top: float
    height: float

    def y(self, amount: Decimal) -> float:
        return self.top + self.height * float((self.high - amount) / (self.high - self.low))

    @property
    def ticks(self) -> list[Decimal]:
        count = int((self.high - self.low) / self.step)
        return [self.low + self.step * i for i in range(count + 1)]


@dataclass(frozen=True, slots=True)
class _Plot:
    """The plotting area, one equal slot per period (at least one: empty waterfalls are refused)."""

    left: float
    width: float
    slots: int

    def x(self, slot: int) -> float:
        return self.left + self.width * (slot + 0.5) / self.slots

    @property
    def bar_width(self) -> float:
        return min(0.6 * self.width / self.slots, BAR_MAX_WIDTH)


def waterfall_svg(waterfall: Waterfall, rollforward: RollForward, *, title: str) -> str:
    """A self-contained SVG document: recognised revenue stacked by row, and the closing balance as a line."""
    balances = _closing_balances(waterfall, rollforward)
    periods = waterfall.periods
    plot = _Plot(LEFT, max(PLOT_MIN_WIDTH, SLOT_MIN_WIDTH * len(periods)), len(periods))
    extents = [end for k in range(len(periods)) for _, _, end in _stack(waterfall, k)]
    scale = _scale([*extents, *(b.amount for b in balances)])
    labels = [row.label for row in waterfall.rows]
    width = plot.left + plot.width + 64 + CHARACTER_WIDTH * max(len(label) for label in [*labels, BALANCE_LABEL])
    height = TOP + PLOT_HEIGHT + BOTTOM
    root = ET.Element("svg", _attributes(xmlns=SVG_NAMESPACE, width=width, height=height, role="img"))
    root.set("viewBox", f"0 0 {_px(width)} {_px(height)}")
    root.set("font-family", "sans-serif")
    root.set("font-size", "12")
    _add(root, "title", {}, title)
    _add(root, "text", _attributes(class_="title", x=LEFT, y=TOP / 2, font_size="16"), title)
    _draw_grid(root, scale, plot, waterfall.currency)
    _draw_bars(root, waterfall, scale, plot)
    _draw_axes(root, scale, plot, periods)
    _draw_balance(root, periods, balances, scale, plot)
    _draw_legend(root, labels, plot.left + plot.width + 24)
    ET.indent(root)
    return XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def write_chart(path: Path, svg: str) -> Path:
    """Write `svg` to `path` as UTF-8, byte for byte (no newline translation), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(svg.encode("utf-8"))
    return path


def _closing_balances(waterfall: Waterfall, rollforward: RollForward) -> list[Money]:
    # The line is drawn over the bars' slots, so both reports must be over the same periods and currency.
    if not waterfall.periods:
        raise ValueError("the waterfall has no periods to chart")
    if rollforward.currency != waterfall.currency:
        raise ValueError(f"the roll-forward is in {rollforward.currency}, the waterfall in {waterfall.currency}")
    if tuple(line.period for line in rollforward.totals) != waterfall.periods:
        raise ValueError("the roll-forward and the waterfall cover different periods")
    return [line.closing for line in rollforward.totals]


def _stack(waterfall: Waterfall, slot: int) -> list[tuple[int, Decimal, Decimal]]:
    """(row index, from, to) of each non-zero amount in `slot`: revenue stacks up from zero, reversals down."""
    up = down = ZERO
    segments = []
    for index, row in enumerate(waterfall.rows):
        amount = row.amounts[slot].amount
        if amount.is_zero():
            continue
        start = up if amount > 0 else down
        segments.append((index, start, start + amount))
        up, down = (start + amount, down) if amount > 0 else (up, start + amount)
    return segments


def _scale(amounts: Iterable[Decimal]) -> _Scale:
    values = [ZERO, *amounts]
    step = _nice_step((max(values) - min(values)) / ROUGH_TICK_COUNT)
    low = (min(values) / step).to_integral_value(ROUND_FLOOR) * step
    high = (max(values) / step).to_integral_value(ROUND_CEILING) * step
    return _Scale(low, high if high > low else low + step, step, TOP, PLOT_HEIGHT)


def _nice_step(rough: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10ⁿ not below `rough`; 1 when there is no range at all."""
    if rough <= 0:
        return Decimal(1)
    power = Decimal(1).scaleb(rough.adjusted())
    return next(power * m for m in (1, 2, 5, 10) if power * m >= rough)


def _draw_grid(root: ET.Element, scale: _Scale, plot: _Plot, currency: str) -> None:
    for tick in scale.ticks:
        y = scale.y(tick)
        _add(
            root,
            "line",
            _attributes(class_="grid", x1=plot.left, x2=plot.left + plot.width, y1=y, y2=y, stroke="#e0e0e0"),
        )
        _add(root, "text", _attributes(class_="tick", x=plot.left - 8, y=y + 4, text_anchor="end"), _figure(tick))
    _add(root, "text", _attributes(class_="currency", x=plot.left - 8, y=TOP - 12, text_anchor="end"), currency)


def _draw_bars(root: ET.Element, waterfall: Waterfall, scale: _Scale, plot: _Plot) -> None:
    for slot, period in enumerate(waterfall.periods):
        bar = _add(root, "g", {"class": "bar", "data-period": period.key})
        _add(bar, "title", {}, _tooltip("Recognised revenue", period, waterfall.total.amounts[slot]))
        for index, start, end in _stack(waterfall, slot):
            row = waterfall.rows[index]
            y0, y1 = scale.y(start), scale.y(end)
            box = _attributes(x=plot.x(slot) - plot.bar_width / 2, y=min(y0, y1), width=plot.bar_width)
            box |= _attributes(height=abs(y1 - y0), fill=PALETTE[index % len(PALETTE)])
            segment = _add(bar, "rect", {"class": "segment", "data-row": row.label, "data-period": period.key} | box)
            _add(segment, "title", {}, _tooltip(row.label, period, row.amounts[slot]))


def _draw_axes(root: ET.Element, scale: _Scale, plot: _Plot, periods: Sequence[Period]) -> None:
    bottom = TOP + PLOT_HEIGHT
    _add(root, "line", _attributes(class_="axis", x1=plot.left, x2=plot.left, y1=TOP, y2=bottom, stroke="#333333"))
    zero = scale.y(ZERO)
    right = plot.left + plot.width
    _add(root, "line", _attributes(class_="zero", x1=plot.left, x2=right, y1=zero, y2=zero, stroke="#333333"))
    for slot, period in enumerate(periods):
        _add(
            root, "text", _attributes(class_="period", x=plot.x(slot), y=bottom + 20, text_anchor="middle"), period.key
        )


def _draw_balance(
    root: ET.Element, periods: Sequence[Period], balances: Sequence[Money], scale: _Scale, plot: _Plot
) -> None:
    points = [(plot.x(slot), scale.y(balance.amount)) for slot, balance in enumerate(balances)]
    line = _add(root, "g", {"class": "balance"})
    path = " ".join(f"{_px(x)},{_px(y)}" for x, y in points)
    _add(line, "polyline", _attributes(points=path, fill="none", stroke=BALANCE_COLOUR, stroke_width="2"))
    for period, balance, (x, y) in zip(periods, balances, points, strict=True):
        point = _add(line, "circle", _attributes(class_="balance-point", cx=x, cy=y, r=3.5, fill=BALANCE_COLOUR))
        point.set("data-period", period.key)
        asset = " (a contract asset)" if balance.is_negative else ""
        _add(point, "title", {}, _tooltip(BALANCE_LABEL, period, balance) + asset)


def _draw_legend(root: ET.Element, labels: Sequence[str], left: float) -> None:
    legend = _add(root, "g", {"class": "legend"})
    for index, label in enumerate(labels):
        y = TOP + 20 * index
        colour = PALETTE[index % len(PALETTE)]
        _add(legend, "rect", _attributes(x=left, y=y - 10, width=12, height=12, fill=colour))
        _add(legend, "text", _attributes(x=left + 18, y=y), label)
    y = TOP + 20 * len(labels)
    _add(
        legend, "line", _attributes(x1=left, x2=left + 12, y1=y - 4, y2=y - 4, stroke=BALANCE_COLOUR, stroke_width="2")
    )
    _add(legend, "text", _attributes(x=left + 18, y=y), BALANCE_LABEL)


def _add(parent: ET.Element, tag: str, attributes: dict[str, str], text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _attributes(**values: float | str) -> dict[str, str]:
    """SVG attributes from keywords: `class_` → class, `text_anchor` → text-anchor; numbers as fixed pixels."""
    return {
        name.rstrip("_").replace("_", "-"): value if isinstance(value, str) else _px(value)
        for name, value in values.items()
    }


def _px(value: float) -> str:
    # Two decimals are finer than any screen and make the same input give the same bytes.
    return f"{value:.2f}"


def _tooltip(label: str, period: Period, money: Money) -> str:
    return f"{label}, {period.key}: {money}"


def _figure(amount: Decimal) -> str:
    return f"{amount:,f}"
