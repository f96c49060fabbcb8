"""What the engine's books mean for the general ledger: the reclass of a billing document and the month-end journals.

The ERP books every billing document the plain way: Dr receivable for the total, Cr each line's deferred-revenue
account (the product mapping's `deferred_revenue_account`, the obligation's `contract_liability_account`). The
engine knows better where a billing lands (ASC 606-10-45): usage already recognised is an unbilled receivable,
revenue ahead of billing a contract asset. `reclass_journal` is the difference between the two, so the ERP ends up
where the engine is; none when they agree, as for a plain invoice in advance.

A period's close is one entry per contract in the engine (the drill-down); the ERP gets `close_journals`: one
summarised journal per legal entity and currency, summed per account, accounts that net to zero left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from canonical.billing_documents import BillingDocument, DocumentKind
from canonical.general_ledger import AccountingPeriod, JournalEntryPosting, JournalLine
from canonical.money import Money
from revenue.journal import ChartOfAccounts, JournalEntry

__all__ = ["close_external_id", "close_journals", "net_by_account", "reclass_external_id", "reclass_journal"]


def reclass_external_id(document_id: str) -> str:
    return f"q2c-reclass-{document_id}"


def close_external_id(period: AccountingPeriod, legal_entity: str, currency: str) -> str:
    return f"q2c-close-{period.end:%Y-%m}-{legal_entity}-{currency}"


def net_by_account(entries: Iterable[JournalEntry]) -> dict[str, Money]:
    """The entries' postings summed per account, debit positive, in the order accounts first appear."""
    net: dict[str, Money] = {}
    for entry in entries:
        for posting in entry.postings:
            net[posting.account] = net[posting.account] + posting.amount if posting.account in net else posting.amount
    return net


def reclass_journal(
    document: BillingDocument,
    entries: Iterable[JournalEntry],
    liability_accounts: Mapping[str, str],
    *,
    legal_entity: str,
    booked_on: date,
    period_id: str,
    chart: ChartOfAccounts | None = None,
) -> JournalEntryPosting | None:
    """The engine's entries for `document` less what the ERP books for it; None when they agree.

    `liability_accounts` maps each billed line's obligation ID to the deferred-revenue account the ERP credits.
    """
    chart = chart or ChartOfAccounts()
    difference = net_by_account(entries)
    for account, amount in _as_the_erp_books_it(document, liability_accounts, chart).items():
        difference[account] = difference[account] - amount if account in difference else -amount
    lines = _journal_lines(difference, memo=f"{_document_name(document)}: where the revenue engine books it")
    if not lines:
        return None
    return JournalEntryPosting(
        external_id=reclass_external_id(document.document_id),
        tran_date=booked_on,
        legal_entity=legal_entity,
        lines=lines,
        currency=document.currency,
        posting_period_id=period_id,
        memo=f"q2c revenue reclass of {_document_name(document)} (contract {document.contract_id})",
    )


def close_journals(
    entries: Iterable[JournalEntry], legal_entity_of: Mapping[str, str], period: AccountingPeriod, period_key: str
) -> tuple[JournalEntryPosting, ...]:
    """One journal per legal entity and currency summing the contracts' recognition entries of one close.

    `legal_entity_of` maps each contract ID to the legal entity that sells it.
    """
    groups: dict[tuple[str, str], list[JournalEntry]] = {}
    for entry in entries:
        groups.setdefault((legal_entity_of[entry.contract_id], entry.currency), []).append(entry)
    journals: list[JournalEntryPosting] = []
    for (legal_entity, currency), group in sorted(groups.items()):
        lines = _journal_lines(net_by_account(group), memo=f"revenue recognised through {period_key}")
        if not lines:
            continue
        contracts = len({entry.contract_id for entry in group})
        journals.append(
            JournalEntryPosting(
                external_id=close_external_id(period, legal_entity, currency),
                tran_date=period.end,
                legal_entity=legal_entity,
                lines=lines,
                currency=currency,
                posting_period_id=period.period_id,
                memo=f"q2c revenue recognised through {period_key}: {contracts} contract(s), detail in the engine",
            )
        )
    return tuple(journals)


def _as_the_erp_books_it(
    document: BillingDocument, liability_accounts: Mapping[str, str], chart: ChartOfAccounts
) -> dict[str, Money]:
    """Dr receivable / Cr each line's deferred-revenue account (a credit note the other way), debit positive."""
    sign = 1 if document.kind is DocumentKind.INVOICE else -1
    booked: dict[str, Money] = {chart.receivable: document.total * sign}
    for line in document.lines:
        account = liability_accounts[line.obligation_id]
        booked[account] = booked[account] - line.amount * sign if account in booked else -(line.amount * sign)
    return booked


def _journal_lines(net: Mapping[str, Money], memo: str) -> tuple[JournalLine, ...]:
    """Debit and credit lines for the accounts that do not net to zero, by account number."""
    lines = []
    for account, amount in sorted(net.items()):
        if amount.is_zero:
            continue
        if amount.is_negative:
            lines.append(JournalLine(account=account, credit=(-amount).amount, memo=memo))
        else:
            lines.append(JournalLine(account=account, debit=amount.amount, memo=memo))
    return tuple(lines)


def _document_name(document: BillingDocument) -> str:
    kind = "invoice" if document.kind is DocumentKind.INVOICE else "credit note"
    number = f" (number {document.number})" if document.number else ""
    return f"{kind} {document.document_id}{number}"
