"""The ERP port over NetSuite REST web services and SuiteQL, plus the postings the invoice → revenue saga needs.

Customers are matched by external ID = the CRM account ID (`GET /record/v1/customer/eid:{id}`) and created by
upsert (`PUT .../eid:{id}`), stamped with the saga's key in `custentity_q2c_created_by`; the undo finds them
by that stamp with SuiteQL and sets `isInactive`. NetSuite keeps an external ID unique even among inactive
records, so a customer found inactive (e.g. deactivated by an earlier saga's compensation) is reactivated and
claimed by the new key: this saga's own compensation then puts it back to inactive.

Transactions carry an external ID too (the billing document's ID, or one derived from the saga). Posting looks
the external ID up first (`GET .../invoice/eid:{id}`) and returns the transaction already there unchanged, so a
retry neither writes again nor trips over a period closed since; only a new one is written, by upsert
(`PUT .../eid:{id}` with `replace=<sublist>`), which leaves one transaction even when two posts race. Names
(items, accounts, currencies, terms) are resolved to internal IDs with SuiteQL once per adapter instance.

A posting into a closed period is refused by NetSuite with a 400, which `adapters.netsuite.errors` classifies
as `ExceptionCategory.CLOSED_PERIOD`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.netsuite.client import NetSuiteClient, record_key
from adapters.netsuite.errors import ERP
from adapters.netsuite.settings import NetSuiteSettings
from adapters.netsuite.wire import date_of, decimal_of, suiteql_string
from canonical.customer import Customer
from canonical.general_ledger import (
    AccountingPeriod,
    CreditMemoPosting,
    CustomerPaymentPosting,
    InvoiceLine,
    InvoicePosting,
    JournalEntryPosting,
    PostedTransaction,
    TrialBalance,
    TrialBalanceLine,
)
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory
from canonical.references import CustomerMatch

CREATED_BY_FIELD = "custentity_q2c_created_by"
CRM_ACCOUNT_FIELD = "custentity_q2c_crm_account_id"
IN_LIST_CHUNK = 500
POSTED_RECORD_TYPES = frozenset({"invoice", "creditMemo", "customerPayment", "journalEntry"})
# Posting periods only: not quarters or years (not posting), nor adjustment periods (year-end corrections).
_POSTING_PERIODS = (
    "SELECT id, periodname, startdate, enddate, closed FROM accountingperiod WHERE isposting = 'T' AND isadjust = 'F'"
)


def _ref(internal_id: str) -> dict[str, str]:
    return {"id": internal_id}


def _numeric_id(value: str, what: str) -> int:
    if not value.isdigit():
        raise PermanentAdapterError(
            ERP, f"{what} {value!r} is not a NetSuite internal ID", ExceptionCategory.INVALID_DATA
        )
    return int(value)


def _sql_date(on: date) -> str:
    return f"TO_DATE({suiteql_string(on.isoformat())}, 'YYYY-MM-DD')"


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + IN_LIST_CHUNK] for i in range(0, len(ids), IN_LIST_CHUNK)]


class NetSuiteErp:
    """ErpPort and GeneralLedgerPort over NetSuite. `subsidiaries`: legal entity code → subsidiary internal ID;
    `terms`: days → terms name."""

    def __init__(
        self,
        settings: NetSuiteSettings,
        subsidiaries: Mapping[str, str],
        terms: Mapping[int, str],
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.client = NetSuiteClient(settings, http)
        self._subsidiaries = dict(subsidiaries)
        self._terms = dict(terms)
        self._ids: dict[tuple[str, str, str], str] = {}
        self._accounts: dict[str, tuple[str, str]] | None = None

    @classmethod
    def from_rules(
        cls, settings: NetSuiteSettings, rules: MappingRules, *, http: httpx.AsyncClient | None = None
    ) -> NetSuiteErp:
        return cls(
            settings,
            {entity.code: entity.erp_subsidiary for entity in rules.legal_entities},
            {terms.days: terms.erp_terms for terms in rules.payment_terms},
            http=http,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> NetSuiteErp:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- ErpPort --------------------------------------------------------------------------------------------

    async def match_or_create_customer(self, customer: Customer, idempotency_key: str) -> CustomerMatch:
        external_id = customer.crm_account_id
        try:
            found = await self.client.get_record("customer", record_key(external_id=external_id))
        except NotFoundError:
            found = None
        if found is not None:
            customer_id = str(found["id"])
            if not found.get("isInactive"):
                return CustomerMatch(
                    system=ERP, customer_id=customer_id, created=found.get(CREATED_BY_FIELD) == idempotency_key
                )
            await self.client.update("customer", customer_id, {"isInactive": False, CREATED_BY_FIELD: idempotency_key})
            return CustomerMatch(system=ERP, customer_id=customer_id, created=True)
        body = await self._new_customer(customer, idempotency_key)
        customer_id = await self.client.upsert("customer", external_id, body)
        return CustomerMatch(system=ERP, customer_id=customer_id, created=True)

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None:
        rows = await self.client.suiteql(
            f"SELECT id, isinactive FROM customer WHERE {CREATED_BY_FIELD} = {suiteql_string(idempotency_key)}"
        )
        if not rows:
            return None
        customer_id = str(rows[0]["id"])
        if rows[0].get("isinactive") != "T":
            await self.client.update("customer", customer_id, {"isInactive": True})
        return customer_id

    async def _new_customer(self, customer: Customer, idempotency_key: str) -> dict[str, Any]:
        subsidiary = self._subsidiaries.get(customer.legal_entity)
        if subsidiary is None:
            raise PermanentAdapterError(
                ERP,
                f"no ERP subsidiary is mapped for legal entity {customer.legal_entity}",
                ExceptionCategory.MAPPING_MISSING,
            )
        terms_name = self._terms.get(customer.payment_terms_days)
        if terms_name is None:
            raise PermanentAdapterError(
                ERP,
                f"no ERP terms are mapped for {customer.payment_terms_days} days",
                ExceptionCategory.MAPPING_MISSING,
            )
        return {
            "companyName": customer.name,
            "isPerson": False,
            "email": customer.billing_contact.email,
            "subsidiary": _ref(subsidiary),
            "currency": _ref(await self._id_of("currency", "symbol", customer.currency)),
            "terms": _ref(await self._id_of("term", "name", terms_name)),
            CREATED_BY_FIELD: idempotency_key,
            CRM_ACCOUNT_FIELD: customer.crm_account_id,
        }

    # --- periods and the ledger -----------------------------------------------------------------------------

    async def accounting_period_for(self, on: date) -> AccountingPeriod:
        rows = await self.client.suiteql(f"{_POSTING_PERIODS} AND {_sql_date(on)} BETWEEN startdate AND enddate")
        if not rows:
            raise NotFoundError(ERP, f"no posting accounting period covers {on.isoformat()}")
        return self._period(rows[0])

    async def next_open_period(self, after: AccountingPeriod) -> AccountingPeriod:
        """The first open posting period starting after `after` ends. NotFoundError when there is none."""
        rows = await self.client.suiteql(
            f"{_POSTING_PERIODS} AND closed = 'F' AND startdate > {_sql_date(after.end)} ORDER BY startdate"
        )
        if not rows:
            raise NotFoundError(ERP, f"no open posting accounting period starts after {after.name}")
        return self._period(rows[0])

    async def accounting_period(self, period_id: str) -> AccountingPeriod:
        rows = await self.client.suiteql(
            "SELECT id, periodname, startdate, enddate, closed FROM accountingperiod "
            f"WHERE id = {_numeric_id(period_id, 'accounting period')}"
        )
        if not rows:
            raise NotFoundError(ERP, f"no accounting period {period_id}")
        return self._period(rows[0])

    @staticmethod
    def _period(row: Mapping[str, Any]) -> AccountingPeriod:
        return AccountingPeriod(
            period_id=str(row["id"]),
            name=str(row["periodname"]),
            start=date_of(str(row["startdate"])),
            end=date_of(str(row["enddate"])),
            closed=row.get("closed") == "T",
        )

    async def post_invoice(self, invoice: InvoicePosting) -> PostedTransaction:
        body = await self._sales_body(
            invoice.customer_id,
            invoice.tran_date,
            invoice.currency,
            invoice.lines,
            invoice.posting_period_id,
            invoice.memo,
        )
        return await self._post("invoice", invoice.external_id, body, "item")

    async def post_credit_memo(self, memo: CreditMemoPosting) -> PostedTransaction:
        body = await self._sales_body(
            memo.customer_id, memo.tran_date, memo.currency, memo.lines, memo.posting_period_id, memo.memo
        )
        if memo.applies_to_invoice_id is not None:
            body["createdFrom"] = _ref(memo.applies_to_invoice_id)
        return await self._post("creditMemo", memo.external_id, body, "item")

    async def post_customer_payment(self, payment: CustomerPaymentPosting) -> PostedTransaction:
        body: dict[str, Any] = {
            "customer": _ref(payment.customer_id),
            "tranDate": payment.tran_date.isoformat(),
            "currency": _ref(await self._id_of("currency", "symbol", payment.currency)),
            "payment": payment.amount,
            "memo": payment.memo,
            "apply": {
                "items": [{"doc": _ref(a.invoice_id), "apply": True, "amount": a.amount} for a in payment.applications]
            },
        }
        if payment.deposit_account is not None:
            body["account"] = _ref(await self._id_of("account", "acctnumber", payment.deposit_account))
        if payment.posting_period_id is not None:
            body["postingPeriod"] = _ref(payment.posting_period_id)
        return await self._post("customerPayment", payment.external_id, body, "apply")

    async def post_journal_entry(self, entry: JournalEntryPosting) -> PostedTransaction:
        subsidiary = self._subsidiaries.get(entry.legal_entity)
        if subsidiary is None:
            raise PermanentAdapterError(
                ERP,
                f"no ERP subsidiary is mapped for legal entity {entry.legal_entity}",
                ExceptionCategory.MAPPING_MISSING,
            )
        lines = []
        for line in entry.lines:
            item: dict[str, Any] = {
                "account": _ref(await self._id_of("account", "acctnumber", line.account)),
                "memo": line.memo,
            }
            item["debit" if line.debit is not None else "credit"] = (
                line.debit if line.debit is not None else line.credit
            )
            if line.customer_id is not None:
                item["entity"] = _ref(line.customer_id)
            lines.append(item)
        body: dict[str, Any] = {
            "subsidiary": _ref(subsidiary),
            "tranDate": entry.tran_date.isoformat(),
            "memo": entry.memo,
            "line": {"items": lines},
        }
        if entry.currency is not None:
            body["currency"] = _ref(await self._id_of("currency", "symbol", entry.currency))
        if entry.posting_period_id is not None:
            body["postingPeriod"] = _ref(entry.posting_period_id)
        return await self._post("journalEntry", entry.external_id, body, "line")

    async def posted_transaction(self, record_type: str, external_id: str) -> PostedTransaction | None:
        """The invoice, creditMemo, customerPayment or journalEntry posted with this external ID, if any."""
        if record_type not in POSTED_RECORD_TYPES:
            raise PermanentAdapterError(
                ERP,
                f"{record_type!r} is not a posting q2c makes (one of {', '.join(sorted(POSTED_RECORD_TYPES))})",
                ExceptionCategory.INVALID_DATA,
            )
        try:
            record = await self.client.get_record(record_type, record_key(external_id=external_id))
        except NotFoundError:
            return None
        return self._posted(record_type, external_id, record)

    async def trial_balance(self, period: AccountingPeriod | str) -> TrialBalance:
        """Debits and credits posted in `period`, per account (GL activity of the period, not cumulative)."""
        period = period if isinstance(period, AccountingPeriod) else await self.accounting_period(period)
        totals = await self._account_totals([period.period_id])
        accounts = await self._chart_of_accounts()
        lines = [
            TrialBalanceLine(
                account_id=account_id,
                account_number=accounts.get(account_id, (account_id, ""))[0],
                account_name=accounts.get(account_id, ("", ""))[1],
                debit=debit,
                credit=credit,
            )
            for account_id, (debit, credit) in totals.items()
        ]
        return TrialBalance(period=period, lines=tuple(sorted(lines, key=lambda line: line.account_number)))

    async def cumulative_trial_balance(self, through: AccountingPeriod) -> dict[str, Decimal]:
        """Net balance (debit − credit) per GL account number over every posting period ending on or before
        `through` ends, `through` included: the balances as at its close. Accounts with postings that net to
        zero are included (as 0); accounts never posted to are not."""
        periods = await self.client.suiteql(
            f"SELECT id FROM accountingperiod WHERE isposting = 'T' AND enddate <= {_sql_date(through.end)}"
        )
        totals = await self._account_totals([str(row["id"]) for row in periods])
        accounts = await self._chart_of_accounts()
        balances = {
            accounts.get(account_id, (account_id, ""))[0]: debit - credit
            for account_id, (debit, credit) in totals.items()
        }
        return dict(sorted(balances.items()))

    async def customer_open_balance(self, customer_id: str) -> Decimal:
        """The customer's receivables balance (NetSuite's `balance`)."""
        record = await self.client.get_record("customer", record_key(customer_id))
        return decimal_of(record.get("balance", 0))

    async def invoice_amount_remaining(self, external_id: str) -> Decimal:
        record = await self.client.get_record("invoice", record_key(external_id=external_id))
        return decimal_of(record.get("amountRemaining", 0))

    # --- plumbing -------------------------------------------------------------------------------------------

    async def _sales_body(
        self,
        customer_id: str,
        tran_date: date,
        currency: str,
        lines: Iterable[InvoiceLine],
        posting_period_id: str | None,
        memo: str,
    ) -> dict[str, Any]:
        items = []
        for line in lines:
            item: dict[str, Any] = {
                "item": _ref(await self._id_of("item", "itemid", line.item)),
                "quantity": line.quantity,
                "rate": line.rate,
                "amount": line.amount,
                "description": line.description,
            }
            if line.account is not None:
                item["account"] = _ref(await self._id_of("account", "acctnumber", line.account))
            items.append(item)
        body: dict[str, Any] = {
            "entity": _ref(customer_id),
            "tranDate": tran_date.isoformat(),
            "currency": _ref(await self._id_of("currency", "symbol", currency)),
            "memo": memo,
            "item": {"items": items},
        }
        if posting_period_id is not None:
            body["postingPeriod"] = _ref(posting_period_id)
        return body

    async def _post(
        self, record_type: str, external_id: str, body: Mapping[str, Any], sublist: str
    ) -> PostedTransaction:
        """The transaction with this external ID: the one already posted, else the one posted now."""
        existing = await self.posted_transaction(record_type, external_id)
        if existing is not None:
            return existing
        internal_id = await self.client.upsert(record_type, external_id, body, params={"replace": sublist})
        record = await self.client.get_record(record_type, record_key(internal_id))
        return self._posted(record_type, external_id, record)

    @staticmethod
    def _posted(record_type: str, external_id: str, record: Mapping[str, Any]) -> PostedTransaction:
        return PostedTransaction(
            record_type=record_type,
            internal_id=str(record["id"]),
            external_id=external_id,
            posting_period_id=str(record["postingPeriod"]["id"]),
            total=decimal_of(record.get("total", 0)),
        )

    async def _account_totals(self, period_ids: list[str]) -> dict[str, tuple[Decimal, Decimal]]:
        """(debit, credit) per account internal ID over the transactions posted in `period_ids`: the periods'
        transaction IDs from `transaction`, then their GL lines summed per account by SuiteQL, a chunk at a time
        (no JOIN, so the same queries run on NetSuite and on the emulator)."""
        numeric = [str(_numeric_id(period_id, "accounting period")) for period_id in period_ids]
        transaction_ids: list[str] = []
        for chunk in _chunks(numeric):
            rows = await self.client.suiteql(
                f"SELECT id FROM transaction WHERE posting = 'T' AND postingperiod IN ({', '.join(chunk)})"
            )
            transaction_ids += [str(_numeric_id(str(row["id"]), "transaction")) for row in rows]
        totals: dict[str, tuple[Decimal, Decimal]] = {}
        for chunk in _chunks(transaction_ids):
            rows = await self.client.suiteql(
                "SELECT account, SUM(debit) AS debit, SUM(credit) AS credit FROM transactionaccountingline "
                f"WHERE posting = 'T' AND transaction IN ({', '.join(chunk)}) GROUP BY account"
            )
            for row in rows:
                debit, credit = totals.get(str(row["account"]), (Decimal(0), Decimal(0)))
                totals[str(row["account"])] = (
                    debit + decimal_of(row.get("debit") or 0),
                    credit + decimal_of(row.get("credit") or 0),
                )
        return totals

    async def _id_of(self, table: str, column: str, value: str) -> str:
        """The internal ID of a record named by a natural key; cached; MASTER_DATA_MISMATCH if NetSuite lacks it."""
        key = (table, column, value)
        if key not in self._ids:
            rows = await self.client.suiteql(f"SELECT id FROM {table} WHERE {column} = {suiteql_string(value)}")
            if not rows:
                raise PermanentAdapterError(
                    ERP, f"NetSuite has no {table} whose {column} is {value!r}", ExceptionCategory.MASTER_DATA_MISMATCH
                )
            self._ids[key] = str(rows[0]["id"])
        return self._ids[key]

    async def _chart_of_accounts(self) -> dict[str, tuple[str, str]]:
        if self._accounts is None:
            rows = await self.client.suiteql("SELECT id, acctnumber, accountsearchdisplayname FROM account")
            self._accounts = {
                str(r["id"]): (str(r.get("acctnumber", "")), str(r.get("accountsearchdisplayname", ""))) for r in rows
            }
        return self._accounts
