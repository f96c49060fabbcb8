"""Revenue waterfall by period and deferred-revenue roll-forward, per contract and in total.

Both are data first (records of `Money`), then a plain-text table or CSV text. The roll-forward is read from
the journals, so it reconciles to the ledger by construction: opening + billings − recognised = closing, where
the balance is the net contract position (contract liability − contract asset; negative means an asset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from canonical.money import Money, sum_money
from revenue.calendar import AccountingCalendar, Period
from revenue.journal import ChartOfAccounts, EntryKind, JournalEntry
from revenue.recognition import Schedule
from revenue.tables import csv_text, text_table

__all__ = [
    "RollForward",
    "RollForwardLine",
    "Waterfall",
    "WaterfallRow",
    "deferred_revenue_rollforward",
    "revenue_waterfall",
    "rollforward_csv",
    "rollforward_text",
    "waterfall_csv",
    "waterfall_text",
]

TOTAL = "Total"
BILLING = {EntryKind.INVOICE, EntryKind.CREDIT_NOTE}
RECOGNITION = {EntryKind.RECOGNITION, EntryKind.CATCH_UP}


@dataclass(frozen=True, slots=True)
class WaterfallRow:
    label: str
    amounts: tuple[Money, ...]  # one per period
    total: Money


@dataclass(frozen=True, slots=True)
class Waterfall:
    currency: str
    periods: tuple[Period, ...]
    rows: tuple[WaterfallRow, ...]
    total: WaterfallRow


@dataclass(frozen=True, slots=True)
class RollForwardLine:
    contract_id: str  # "Total" for the sum over contracts
    period: Period
    opening: Money
    billings: Money
    recognised: Money
    closing: Money
    contract_liability: Money  # the closing balance, split: each contract netted on its own
    contract_asset: Money


@dataclass(frozen=True, slots=True)
class RollForward:
    currency: str
    lines: tuple[RollForwardLine, ...]  # contract by contract, period by period
    totals: tuple[RollForwardLine, ...]  # period by period


def revenue_waterfall(
    schedules: Iterable[Schedule], calendar: AccountingCalendar, first: str, last: str, *, by_obligation: bool = False
) -> Waterfall:
    """Revenue per period `first`..`last` (keys of `calendar`), one row per contract (or obligation)."""
    lo, hi = calendar.index_of(first), calendar.index_of(last)
    periods = calendar.periods[lo : hi + 1]
    sums: dict[str, list[int]] = {}
    currency = ""
    for item in schedules:
        currency = currency or item.currency
        if item.currency != currency:
            raise ValueError(f"a waterfall is in one currency: {item.obligation_id} is in {item.currency}")
        row = sums.setdefault(item.obligation_id if by_obligation else item.contract_id, [0] * len(periods))
        for k, units in enumerate(item.minor_units):
            column = item.first_index + k - lo
            if 0 <= column < len(row):
                row[column] += units
    if not currency:
        raise ValueError("no schedules to report")
    rows = tuple(_row(label, units, currency) for label, units in sums.items())
    total_units = [sum(column) for column in zip(*sums.values(), strict=True)]
    return Waterfall(currency, periods, rows, _row(TOTAL, total_units, currency))


def deferred_revenue_rollforward(
    entries: Iterable[JournalEntry],
    calendar: AccountingCalendar,
    first: str,
    last: str,
    chart: ChartOfAccounts | None = None,
) -> RollForward:
    """Per contract and period: net contract position opening + billings − recognised = closing."""
    chart = chart or ChartOfAccounts()
    lo, hi = calendar.index_of(first), calendar.index_of(last)
    start = calendar.periods[lo].start
    position_accounts = {chart.contract_liability, chart.contract_asset}
    opening: dict[str, Money] = {}
    moves: dict[tuple[str, int], tuple[Money, Money]] = {}  # (contract, period index) → (billed, recognised)
    currency = ""
    for entry in entries:
        currency = currency or entry.currency
        change = -sum_money((p.amount for p in entry.postings if p.account in position_accounts), entry.currency)
        if entry.booked_on < start:
            opening[entry.contract_id] = opening.get(entry.contract_id, Money.zero(entry.currency)) + change
            continue
        index = calendar.index_of_day(entry.booked_on)
        if index > hi or change.is_zero:
            continue
        billed, recognised = moves.get((entry.contract_id, index), (Money.zero(currency), Money.zero(currency)))
        if entry.kind in BILLING:
            billed += change
        elif entry.kind in RECOGNITION:
            recognised -= change
        else:
            raise ValueError(f"a {entry.kind} entry moved the contract position of {entry.contract_id}")
        moves[(entry.contract_id, index)] = (billed, recognised)
    if not currency:
        raise ValueError("no journal entries to report")
    contracts = list(dict.fromkeys([*opening, *(c for c, _ in moves)]))
    lines = [
        line
        for contract_id in contracts
        for line in _contract_lines(contract_id, opening, moves, calendar.periods, lo, hi, currency)
    ]
    return RollForward(currency, tuple(lines), _totals(lines, calendar.periods[lo : hi + 1], currency))


def waterfall_text(waterfall: Waterfall) -> str:
    return text_table(*_waterfall_table(waterfall))


def waterfall_csv(waterfall: Waterfall) -> str:
    return csv_text(*_waterfall_table(waterfall))


def rollforward_text(rollforward: RollForward, *, totals_only: bool = False) -> str:
    return text_table(*_rollforward_table(rollforward, totals_only), left_columns=2)


def rollforward_csv(rollforward: RollForward, *, totals_only: bool = False) -> str:
    return csv_text(*_rollforward_table(rollforward, totals_only))


def _row(label: str, units: Sequence[int], currency: str) -> WaterfallRow:
    amounts = tuple(Money.from_minor_units(u, currency) for u in units)
    return WaterfallRow(label, amounts, Money.from_minor_units(sum(units), currency))


def _contract_lines(
    contract_id: str,
    opening: dict[str, Money],
    moves: dict[tuple[str, int], tuple[Money, Money]],
    periods: tuple[Period, ...],
    lo: int,
    hi: int,
    currency: str,
) -> list[RollForwardLine]:
    zero = Money.zero(currency)
    balance, lines = opening.get(contract_id, zero), []
    for index in range(lo, hi + 1):
        billed, recognised = moves.get((contract_id, index), (zero, zero))
        closing = balance + billed - recognised
        lines.append(
            RollForwardLine(
                contract_id,
                periods[index],
                balance,
                billed,
                recognised,
                closing,
                max(closing, zero),
                max(-closing, zero),
            )
        )
        balance = closing
    return lines


def _totals(lines: list[RollForwardLine], periods: tuple[Period, ...], currency: str) -> tuple[RollForwardLine, ...]:
    def total(items: list[RollForwardLine], name: str) -> Money:
        amounts: Iterable[Money] = (getattr(line, name) for line in items)
        return sum_money(amounts, currency)

    totals = []
    for period in periods:
        same = [line for line in lines if line.period == period]
        names = ("opening", "billings", "recognised", "closing", "contract_liability", "contract_asset")
        totals.append(RollForwardLine(TOTAL, period, *(total(same, n) for n in names)))
    return tuple(totals)


def _waterfall_table(waterfall: Waterfall) -> tuple[list[str], list[list[str]]]:
    headers = ["contract", *(p.key for p in waterfall.periods), TOTAL.lower()]
    rows = [
        [row.label, *(_figure(a) for a in row.amounts), _figure(row.total)]
        for row in (*waterfall.rows, waterfall.total)
    ]
    return headers, rows


def _rollforward_table(rollforward: RollForward, totals_only: bool) -> tuple[list[str], list[list[str]]]:
    headers = ["contract", "period", "opening", "billings", "recognised", "closing", "liability", "asset"]
    lines = rollforward.totals if totals_only else (*rollforward.lines, *rollforward.totals)
    rows = [
        [line.contract_id, line.period.key]
        + [_figure(m) for m in (line.opening, line.billings, line.recognised, line.closing)]
        + [_figure(line.contract_liability), _figure(line.contract_asset)]
        for line in lines
    ]
    return headers, rows


def _figure(money: Money) -> str:
    return f"{money.amount:,f}"
