"""The ERP's side of reconciliation, read in bulk with SuiteQL (`POST /services/rest/query/v1/suiteql`, 1000 rows
a page): every AR invoice and credit memo of a span of days with its external ID, total, currency, customer and
amount remaining, and the GL balances as they stand.

Only single-table queries are used (no JOINs), so the same SQL runs on NetSuite and on the emulator: the
transactions, then their customers' subsidiaries (`customer.subsidiary`, a chunk of IDs at a time) and the
currencies' symbols. A subsidiary is reported as the legal entity the mapping rules give it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.netsuite.erp import NetSuiteErp, _chunks, _sql_date
from adapters.netsuite.wire import date_of, decimal_of
from canonical.money import Money
from canonical.reconciliation import AccountBalance, DocumentSide, ErpRecord, LedgerSystem

SIDES = {"CustInvc": DocumentSide.INVOICE, "CustCred": DocumentSide.CREDIT_NOTE}
UNKNOWN_ENTITY = "?"
_POSTING_PERIODS = "SELECT id, enddate FROM accountingperiod WHERE isposting = 'T' AND isadjust = 'F'"


async def erp_records(
    erp: NetSuiteErp, first_day: date, last_day: date, legal_entities: Mapping[str, str]
) -> list[ErpRecord]:
    """AR invoices and credit memos dated `first_day`..`last_day`; `legal_entities`: subsidiary ID → entity code."""
    rows = await erp.client.suiteql(
        "SELECT id, type, externalid, trandate, entity, currency, foreigntotal, foreignamountremaining "
        f"FROM transaction WHERE type IN ('CustInvc', 'CustCred') "
        f"AND trandate BETWEEN {_sql_date(first_day)} AND {_sql_date(last_day)}"
    )
    subsidiaries = await _subsidiaries_of(erp, sorted({str(row["entity"]) for row in rows if "entity" in row}))
    symbols = {str(r["id"]): str(r["symbol"]) for r in await erp.client.suiteql("SELECT id, symbol FROM currency")}
    return [_record(row, subsidiaries, symbols, legal_entities) for row in rows]


async def erp_balances(erp: NetSuiteErp, currency: str) -> list[AccountBalance]:
    """Each GL account's balance (debit positive) over every posting period: the books as they stand now."""
    periods = await erp.client.suiteql(_POSTING_PERIODS)
    if not periods:
        return []
    latest = max(periods, key=lambda row: date_of(str(row["enddate"])))
    balances = await erp.cumulative_trial_balance(await erp.accounting_period(str(latest["id"])))
    return [
        AccountBalance(
            system=LedgerSystem.ERP,
            account=account,
            currency=currency,
            balance_minor=Money.of(amount, currency).to_minor_units(),
        )
        for account, amount in balances.items()
    ]


async def _subsidiaries_of(erp: NetSuiteErp, customer_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks([c for c in customer_ids if c.isdigit()]):
        rows = await erp.client.suiteql(f"SELECT id, subsidiary FROM customer WHERE id IN ({', '.join(chunk)})")
        found.update({str(row["id"]): str(row.get("subsidiary", "")) for row in rows})
    return found


def _record(
    row: Mapping[str, Any], subsidiaries: Mapping[str, str], symbols: Mapping[str, str], entities: Mapping[str, str]
) -> ErpRecord:
    side = SIDES[str(row["type"])]
    currency = symbols.get(str(row.get("currency", "")), "")
    sign = 1 if side is DocumentSide.INVOICE else -1
    remaining = decimal_of(row.get("foreignamountremaining", 0)) if side is DocumentSide.INVOICE else Decimal(0)
    return ErpRecord(
        internal_id=str(row["id"]),
        external_id=row.get("externalid"),
        side=side,
        tran_date=date_of(str(row["trandate"])),
        legal_entity=entities.get(subsidiaries.get(str(row.get("entity", "")), ""), UNKNOWN_ENTITY),
        currency=currency,
        total_minor=sign * _minor(decimal_of(row.get("foreigntotal", 0)), currency),
        open_minor=_minor(remaining, currency),
    )


def _minor(amount: Decimal, currency: str) -> int:
    return Money.of(amount, currency).rounded().to_minor_units()


class NetSuiteArPostings:
    """`ErpListingPort` over the NetSuite adapter; `legal_entities`: subsidiary ID → legal entity code."""

    def __init__(self, erp: NetSuiteErp, legal_entities: Mapping[str, str]) -> None:
        self._erp = erp
        self._legal_entities = dict(legal_entities)

    async def erp_records(self, first_day: date, last_day: date) -> list[ErpRecord]:
        return await erp_records(self._erp, first_day, last_day, self._legal_entities)

    async def erp_balances(self, currency: str) -> list[AccountBalance]:
        return await erp_balances(self._erp, currency)
