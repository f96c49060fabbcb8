"""A year of the book as plain JSON data: what was billed, what was recognised month by month, where it ended.

Amounts are decimal strings and dates ISO strings, so the export can be written, diffed and compared as is. It
reconciles by construction, per currency: revenue by month adds up to the revenue of the year, and, for a book
that starts within the year, billed − recognised = contract liability − contract asset − unbilled receivable at
the year end (each contract netted on its own, as `revenue.ledger` keeps it).

Year-end balances are those of the journal entries booked up to the last day, so events recorded later (December's
usage invoiced on 1 January) do not leak into them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from canonical.money import Money, sum_money
from revenue.book import PeriodClose, RecordedDocument, RevenueBook
from revenue.gl_postings import net_by_account
from revenue.journal import ChartOfAccounts, JournalEntry

__all__ = ["year_export"]


def year_export(book: RevenueBook, first_day: date, last_day: date) -> dict[str, Any]:
    """Billing documents booked, revenue recognised by closes of periods within `first_day`..`last_day`, and
    the balances per account and per contract at `last_day`."""
    if last_day < first_day:
        raise ValueError(f"{last_day} is before {first_day}")
    documents = sorted(
        (d for d in book.documents.values() if first_day <= d.booked_on <= last_day),
        key=lambda d: (d.booked_on, d.document_id),
    )
    closes = sorted(
        (c for c in book.closes.values() if c.period.start >= first_day and c.period.end <= last_day),
        key=lambda c: c.period.start,
    )
    currency_of = {oid: obligation.currency for oid, obligation in book.ledger.obligations.items()}
    return {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "calendar": book.calendar.name,
        "documents": [_document(d) for d in documents],
        "billed": _per_currency(d.billed for d in documents),
        "revenue": _revenue(closes, currency_of),
        "year_end": _year_end(book, last_day),
    }


def _document(document: RecordedDocument) -> dict[str, Any]:
    return {
        "document_id": document.document_id,
        "kind": document.kind.value,
        "number": document.number,
        "contract_id": document.contract_id,
        "issued_on": document.issued_on.isoformat(),
        "booked_on": document.booked_on.isoformat(),
        "currency": document.total.currency,
        "lines": [
            {
                "line_id": line.line_id,
                "obligation_id": line.obligation_id,
                "product_code": line.product_code,
                "service_start": line.service_start.isoformat(),
                "service_end": line.service_end.isoformat(),
                "amount": _figure(line.amount),
            }
            for line in document.lines
        ],
        "total": _figure(document.total),
    }


def _revenue(closes: list[PeriodClose], currency_of: Mapping[str, str]) -> dict[str, Any]:
    by_obligation: dict[str, Money] = {}
    for close in closes:
        for obligation_id, amount in close.recognised.items():
            by_obligation[obligation_id] = by_obligation.get(obligation_id, Money.zero(amount.currency)) + amount
    return {
        "by_month": {
            close.period.key: {oid: _figure(amount) for oid, amount in sorted(close.recognised.items())}
            for close in closes
        },
        "month_totals": {close.period.key: _per_currency(close.recognised.values()) for close in closes},
        "by_obligation": {oid: _figure(amount) for oid, amount in sorted(by_obligation.items())},
        "total": _per_currency(by_obligation.values(), currencies=set(currency_of.values())),
    }


def _year_end(book: RevenueBook, last_day: date) -> dict[str, Any]:
    booked: dict[str, list[JournalEntry]] = {}
    for entry in book.journal:
        if entry.booked_on <= last_day:
            booked.setdefault(entry.contract_id, []).append(entry)
    billed: dict[str, list[Money]] = {}
    for document in book.documents.values():
        if document.booked_on <= last_day:
            billed.setdefault(document.contract_id, []).append(document.billed)
    recognised: dict[str, list[Money]] = {}
    for close in book.closes.values():
        if close.period.end <= last_day:
            for oid, amount in close.recognised.items():
                recognised.setdefault(book.ledger.obligations[oid].contract_id, []).append(amount)
    contracts: dict[str, dict[str, Any]] = {}
    accounts: dict[str, dict[str, Money]] = {}
    for contract_id in sorted(book.ledger.contract_ids):
        currency = book.ledger.obligations_of(contract_id)[0].currency
        net = _with_chart(net_by_account(booked.get(contract_id, ())), book.chart, currency)
        per_currency = accounts.setdefault(currency, {})
        for account, amount in net.items():
            per_currency[account] = per_currency.get(account, Money.zero(currency)) + amount
        contracts[contract_id] = _contract(
            net,
            book.chart,
            currency=currency,
            legal_entity=book.legal_entity_of(contract_id),
            billed=sum_money(billed.get(contract_id, ()), currency),
            recognised=sum_money(recognised.get(contract_id, ()), currency),
        )
    return {
        "date": last_day.isoformat(),
        "balances_by_account": {
            currency: {account: _figure(amount) for account, amount in sorted(net.items())}
            for currency, net in sorted(accounts.items())
        },
        "contracts": contracts,
    }


def _contract(
    net: Mapping[str, Money],
    chart: ChartOfAccounts,
    *,
    currency: str,
    legal_entity: str,
    billed: Money,
    recognised: Money,
) -> dict[str, Any]:
    balance_sheet = {chart.cash, chart.receivable, chart.unbilled_receivable, chart.contract_asset}
    balance_sheet.add(chart.contract_liability)
    return {
        "currency": currency,
        "legal_entity": legal_entity,
        "billed": _figure(billed),
        "recognised": _figure(recognised),
        "cash": _figure(net[chart.cash]),
        "receivable": _figure(net[chart.receivable]),
        "unbilled_receivable": _figure(net[chart.unbilled_receivable]),
        "contract_asset": _figure(net[chart.contract_asset]),
        "contract_liability": _figure(-net[chart.contract_liability]),
        "revenue_by_account": {
            account: _figure(-amount) for account, amount in sorted(net.items()) if account not in balance_sheet
        },
    }


def _with_chart(net: dict[str, Money], chart: ChartOfAccounts, currency: str) -> dict[str, Money]:
    """Every balance-sheet account of the chart, zero where nothing was booked, then whatever else was."""
    accounts = (chart.cash, chart.receivable, chart.unbilled_receivable, chart.contract_asset, chart.contract_liability)
    return {account: Money.zero(currency) for account in accounts} | net


def _per_currency(amounts: Iterable[Money], currencies: set[str] | None = None) -> dict[str, str]:
    totals = {currency: Money.zero(currency) for currency in currencies or ()}
    for amount in amounts:
        totals[amount.currency] = totals.get(amount.currency, Money.zero(amount.currency)) + amount
    return {currency: _figure(total) for currency, total in sorted(totals.items())}


def _figure(money: Money) -> str:
    """The amount as a decimal string; a zero is written 0.00, never -0.00."""
    return str(Money.zero(money.currency).amount if money.is_zero else money.amount)
