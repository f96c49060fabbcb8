"""The tables SuiteQL can read, built from the stored records.

Record tables (customer, account, accountingperiod, subsidiary, item, currency, term) have a column per body
field, lower-cased, references as IDs and checkboxes as 'T'/'F'. Transactions appear in `transaction` (type
CustInvc, CustCred, CustPymt, Journal), and their GL impact in `transactionaccountingline`, one row per posting
line with `transaction`, `transactionline`, `account`, `debit`, `credit`, `amount` (debit − credit), `posting`
('T'), plus two emulator conveniences that NetSuite keeps on other tables: `postingperiod` (in NetSuite,
`transaction.postingperiod`, reached by a JOIN) and `entity` (in NetSuite, `transactionline.entity`). The
adapter does not rely on them: it reads trial balances the way that also works on NetSuite without JOINs, the
periods' transaction IDs from `transaction`, then `SELECT account, SUM(debit) AS debit, SUM(credit) AS credit
FROM transactionaccountingline WHERE posting = 'T' AND transaction IN (...) GROUP BY account`. `account` also
answers `accountsearchdisplayname` and `fullname` (both the account name here).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.netsuite import ledger
from sandbox.netsuite.books import Books
from sandbox.netsuite.recordtypes import RECORD_TYPES, columns_of, row_of

RECORD_TABLES = {
    "customer": "customer",
    "account": "account",
    "accountingperiod": "accountingPeriod",
    "subsidiary": "subsidiary",
    "item": "item",
    "currency": "currency",
    "term": "term",
}
TRANSACTION_COLUMNS = {
    "id", "type", "tranid", "trandate", "postingperiod", "entity", "externalid", "memo", "currency",
    "foreigntotal", "foreignamountremaining", "status", "posting",
}  # fmt: skip
LINE_COLUMNS = {
    "transaction", "transactionline", "account", "debit", "credit", "amount", "netamount", "posting",
    "postingperiod", "entity", "memo",
}  # fmt: skip
TABLES = frozenset({*RECORD_TABLES, "transaction", "transactionaccountingline"})


async def table(books: Books, name: str, custom_fields: tuple[str, ...]) -> tuple[set[str], list[dict[str, Any]]]:
    """The columns and rows of a SuiteQL table; KeyError if there is no such table."""
    if name in RECORD_TABLES:
        rt = RECORD_TYPES[RECORD_TABLES[name]]
        rows = [row_of(rt, doc) for doc in await books.all(rt)]
        if name == "account":
            for row in rows:
                row.update(accountsearchdisplayname=row.get("acctname"), fullname=row.get("acctname"))
            return columns_of(rt, custom_fields) | {"accountsearchdisplayname", "fullname"}, rows
        if name == "accountingperiod":
            for row in rows:
                row.update(isposting="T", isquarter="F", isyear="F", isadjust="F")
            return columns_of(rt, custom_fields) | {"isposting", "isquarter", "isyear", "isadjust"}, rows
        return columns_of(rt, custom_fields), rows
    if name == "transaction":
        return TRANSACTION_COLUMNS, [await _transaction_row(books, tx) for tx in await books.transactions()]
    if name == "transactionaccountingline":
        return LINE_COLUMNS, [row for tx in await books.transactions() for row in _line_rows(tx)]
    raise KeyError(name)


async def _transaction_row(books: Books, tx: dict[str, Any]) -> dict[str, Any]:
    rt = RECORD_TYPES[tx["_type"]]
    entity = tx.get("entity") or tx.get("customer")
    row = {
        "id": tx["id"],
        "type": rt.transaction_code,
        "tranid": tx.get("tranId") or tx["id"],
        "trandate": date.fromisoformat(tx["tranDate"]),
        "postingperiod": tx["postingPeriod"]["id"],
        "entity": entity["id"] if entity else None,
        "externalid": tx.get("externalId"),
        "memo": tx.get("memo"),
        "currency": tx["currency"]["id"] if tx.get("currency") else None,
        "foreigntotal": tx.get("total"),
        "posting": "T",
    }
    computed = await ledger.computed(books, rt, tx)
    row["status"] = computed.get("status")
    if "amountRemaining" in computed:
        row["foreignamountremaining"] = computed["amountRemaining"]
    return row


def _line_rows(tx: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(ledger.gl_lines(tx)):
        debit, credit = line["debit"], line["credit"]
        amount = (debit or Decimal(0)) - (credit or Decimal(0))
        rows.append(
            {
                "transaction": tx["id"],
                "transactionline": str(number),
                "account": line["account"],
                "debit": debit,
                "credit": credit,
                "amount": amount,
                "netamount": amount,
                "posting": "T",
                "postingperiod": tx["postingPeriod"]["id"],
                "entity": line["entity"],
                "memo": line.get("memo"),
            }
        )
    return rows
