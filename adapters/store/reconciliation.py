"""Reconciliation in q2c's database: stage what each system said, match it with set-based SQL, file the breaks.

    recon = ReconciliationStore(store)
    run_id = await recon.start_run(workflow_id, run_key, first_day, last_day)
    await recon.stage_billing(run_id, billing_records)      # bulk: COPY on PostgreSQL, executemany on SQLite
    await recon.stage_erp(run_id, erp_records)
    await recon.stage_balances(run_id, balances)
    summary = await recon.match(run_id)                      # a few INSERT ... SELECTs: joins and GROUP BYs
    breaks = await recon.file_cases(run_id)                  # an exception case per break

Matching never looks at one row at a time in Python: a few statements over the staged rows find every break
(joins on the billing document ID = the ERP posting's external ID; GROUP BY for duplicates, daily totals and
balances), so the database does the work in a few passes, and millions of documents take seconds. Staging and
matching are idempotent per run (a retried activity replaces what it staged, and matching replaces the run's
breaks), so the workflow may retry any step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store.reconciliation_tables import (
    ReconciliationBreakRow,
    ReconciliationRunRow,
    StagedBalanceRow,
    StagedBillingRow,
    StagedErpRow,
)
from adapters.store.records import OwnerRole
from adapters.store.store import OperationalStore
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.reconciliation import (
    AccountBalance,
    BillingRecord,
    BreakKind,
    ErpRecord,
    ReconciliationBreak,
    ReconciliationRun,
)

BILLING_COLUMNS = ("run_id", "document_id", "issued_on", "legal_entity", "currency", "amount_minor", "open_minor")
ERP_COLUMNS = (
    "run_id", "internal_id", "external_id", "tran_date", "legal_entity", "currency", "amount_minor", "open_minor",
)  # fmt: skip
BALANCE_COLUMNS = ("run_id", "system", "account", "currency", "balance_minor")


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


RUNS = _table(ReconciliationRunRow)
BREAKS = _table(ReconciliationBreakRow)
_BREAK_COLUMNS = "run_id, kind, document_id, day, legal_entity, account, billing_currency, billing_minor, " + (
    "erp_currency, erp_minor, postings"
)

# Each statement finds one or more kinds of break; `:run` is the run. Billing document ID = ERP external ID.
#
# Per document, both sides meet in one FULL OUTER JOIN on the document ID (a hash join on PostgreSQL) that keeps
# only the pairs where something differs (a handful, on healthy books); those few are then classified by kind. One
# join for five kinds of break, instead of a join per kind.
_DOCUMENT_KINDS = " UNION ALL ".join(
    f"SELECT '{kind.value}' AS kind"
    for kind in (
        BreakKind.MISSING_IN_ERP,
        BreakKind.MISSING_IN_BILLING,
        BreakKind.CURRENCY_MISMATCH,
        BreakKind.AMOUNT_MISMATCH,
        BreakKind.OPEN_AR_MISMATCH,
    )
)
_DOCUMENTS = f"""
    WITH pairs AS MATERIALIZED (  -- computed once, not once per kind it is joined with
        SELECT COALESCE(b.document_id, e.external_id) AS doc, COALESCE(b.issued_on, e.tran_date) AS day,
               COALESCE(b.legal_entity, e.legal_entity) AS legal_entity,
               b.document_id AS billed, e.internal_id AS posted,
               b.currency AS b_cur, e.currency AS e_cur, b.amount_minor AS b_amt, e.amount_minor AS e_amt,
               b.open_minor AS b_open, e.open_minor AS e_open
        FROM (SELECT * FROM recon_billing_documents WHERE run_id = :run) b
        FULL OUTER JOIN (SELECT * FROM recon_erp_postings WHERE run_id = :run AND external_id IS NOT NULL) e
            ON e.external_id = b.document_id
        WHERE b.document_id IS NULL OR e.internal_id IS NULL OR b.currency <> e.currency
           OR b.amount_minor <> e.amount_minor OR b.open_minor <> e.open_minor
    )
    SELECT :run, k.kind, p.doc, p.day, p.legal_entity, NULL,
           p.b_cur, CASE WHEN k.kind = 'open_ar_mismatch' THEN p.b_open ELSE p.b_amt END,
           p.e_cur, CASE WHEN k.kind = 'open_ar_mismatch' THEN p.e_open ELSE p.e_amt END, NULL
    FROM pairs p JOIN ({_DOCUMENT_KINDS}) k ON
           (k.kind = 'missing_in_erp' AND p.posted IS NULL)
        OR (k.kind = 'missing_in_billing' AND p.billed IS NULL)
        OR (p.billed IS NOT NULL AND p.posted IS NOT NULL AND (
               (k.kind = 'currency_mismatch' AND p.b_cur <> p.e_cur)
            OR (k.kind = 'amount_mismatch' AND p.b_cur = p.e_cur AND p.b_amt <> p.e_amt)
            OR (k.kind = 'open_ar_mismatch' AND p.b_cur = p.e_cur AND p.b_open <> p.e_open)))"""
MATCHING: dict[str, str] = {
    "documents": _DOCUMENTS,
    "duplicates": """
        SELECT :run, 'duplicate_in_erp', e.external_id, MIN(e.tran_date), MIN(e.legal_entity), NULL,
               NULL, NULL, MIN(e.currency), SUM(e.amount_minor), COUNT(*)
        FROM recon_erp_postings e
        WHERE e.run_id = :run AND e.external_id IS NOT NULL
        GROUP BY e.external_id HAVING COUNT(*) > 1""",
    # Postings keyed in by hand, without an external ID, belong to no billing document.
    "postings without a billing document ID": """
        SELECT e.run_id, 'missing_in_billing', e.internal_id, e.tran_date, e.legal_entity,
               NULL, NULL, NULL, e.currency, e.amount_minor, NULL
        FROM recon_erp_postings e
        WHERE e.run_id = :run AND e.external_id IS NULL""",
    # Both sides in one pass: UNION ALL, then one GROUP BY per day, legal entity and currency.
    "daily totals": """
        SELECT :run, 'daily_total_mismatch', NULL, t.day, t.legal_entity, NULL,
               t.currency, SUM(t.billing), t.currency, SUM(t.erp), NULL
        FROM (
            SELECT issued_on AS day, legal_entity, currency, amount_minor AS billing, 0 AS erp
            FROM recon_billing_documents WHERE run_id = :run
            UNION ALL
            SELECT tran_date, legal_entity, currency, 0, amount_minor
            FROM recon_erp_postings WHERE run_id = :run
        ) t
        GROUP BY t.day, t.legal_entity, t.currency
        HAVING SUM(t.billing) <> SUM(t.erp)""",
    "balances": """
        SELECT :run, 'balance_mismatch', NULL, NULL, NULL, a.account,
               a.currency, SUM(CASE WHEN a.system = 'revenue_engine' THEN a.balance_minor ELSE 0 END),
               a.currency, SUM(CASE WHEN a.system = 'erp' THEN a.balance_minor ELSE 0 END), NULL
        FROM recon_account_balances a
        WHERE a.run_id = :run
        GROUP BY a.account, a.currency
        HAVING SUM(CASE WHEN a.system = 'erp' THEN a.balance_minor ELSE -a.balance_minor END) <> 0""",
}


MATCHING_WORK_MEM = "256MB"


def _now() -> datetime:
    return datetime.now(UTC)


class ReconciliationStore:
    """Reconciliation runs on the operational store's database; exception cases through the store itself."""

    def __init__(self, store: OperationalStore) -> None:
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    async def start_run(self, workflow_id: str, run_key: str, first_day: date, last_day: date) -> int:
        """The run for `run_key` (the workflow's ID and run): a new one, or the one a retried start made."""
        if last_day < first_day:
            raise ValueError(f"the last day {last_day} is before the first day {first_day}")
        async with self._store.engine.begin() as connection:
            found = await self._run_id(connection, run_key)
            if found is not None:
                return found
            await connection.execute(
                insert(RUNS).values(
                    run_key=run_key,
                    workflow_id=workflow_id,
                    first_day=first_day,
                    last_day=last_day,
                    started_at=_now(),
                    billing_documents=0,
                    erp_postings=0,
                    accounts=0,
                )
            )
            found = await self._run_id(connection, run_key)
        assert found is not None
        return found

    async def stage_billing(self, run_id: int, records: Iterable[BillingRecord]) -> int:
        rows = [
            (run_id, r.document_id, r.issued_on, r.legal_entity, r.currency, r.total_minor, r.open_minor)
            for r in records
        ]
        return await self.stage_rows(run_id, _table(StagedBillingRow), BILLING_COLUMNS, rows, count="billing_documents")

    async def stage_erp(self, run_id: int, records: Iterable[ErpRecord]) -> int:
        rows = [
            (run_id, r.internal_id, r.external_id, r.tran_date, r.legal_entity, r.currency, r.total_minor, r.open_minor)
            for r in records
        ]
        return await self.stage_rows(run_id, _table(StagedErpRow), ERP_COLUMNS, rows, count="erp_postings")

    async def stage_balances(self, run_id: int, balances: Iterable[AccountBalance]) -> int:
        rows = [(run_id, b.system.value, b.account, b.currency, b.balance_minor) for b in balances]
        return await self.stage_rows(run_id, _table(StagedBalanceRow), BALANCE_COLUMNS, rows, count="accounts")

    async def stage_rows(
        self, run_id: int, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *, count: str
    ) -> int:
        """Replace the run's rows in `table` with `rows` (tuples in `columns` order), in bulk; how many."""
        async with self._store.engine.begin() as connection:
            await connection.execute(delete(table).where(table.c.run_id == run_id))
            if self._postgres:
                await _copy(connection, table.name, columns, rows)
            elif rows:
                await connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
            await connection.execute(update(RUNS).where(RUNS.c.id == run_id).values({count: len(rows)}))
        return len(rows)

    async def match(self, run_id: int) -> ReconciliationRun:
        """Find every break among the run's staged rows (replacing any found before) and return the summary."""
        async with self._store.engine.begin() as connection:
            await connection.execute(delete(BREAKS).where(BREAKS.c.run_id == run_id))
            if self._postgres:  # room for the hash joins and aggregates over both sides, so they stay in memory
                await connection.exec_driver_sql(f"SET LOCAL work_mem = '{MATCHING_WORK_MEM}'")
            for statement in MATCHING.values():
                await connection.execute(
                    text(f"INSERT INTO recon_breaks ({_BREAK_COLUMNS}) {statement}"), {"run": run_id}
                )
            await connection.execute(update(RUNS).where(RUNS.c.id == run_id).values(matched_at=_now()))
        return await self.run(run_id)

    async def file_cases(self, run_id: int, *, opened_by: str = "reconciliation") -> list[ReconciliationBreak]:
        """Open an exception case (reconciliation_break, controllership) for each break of the run that has none.

        One open case per break subject: a break still there in the next run finds the case already open.
        """
        async with self._store.engine.connect() as connection:
            rows = (await connection.execute(_breaks_query(run_id, only_unfiled=True))).mappings().all()
        for row in rows:
            found = _break(row)
            case = await self._store.open_case(
                f"reconciliation/{found.kind.value}/{found.subject}",
                ExceptionCategory.RECONCILIATION_BREAK,
                found.description,
                found.amount_at_risk,
                owner=OwnerRole.CONTROLLERSHIP,
                opened_by=opened_by,
            )
            async with self._store.engine.begin() as connection:
                await connection.execute(update(BREAKS).where(BREAKS.c.id == row["id"]).values(case_id=case.id))
        return await self.breaks(run_id)

    async def run(self, run_id: int) -> ReconciliationRun:
        async with self._store.engine.connect() as connection:
            row = (await connection.execute(select(RUNS).where(RUNS.c.id == run_id))).first()
            if row is None:
                raise LookupError(f"there is no reconciliation run {run_id}")
            counts = await connection.execute(
                select(BREAKS.c.kind, func.count()).where(BREAKS.c.run_id == run_id).group_by(BREAKS.c.kind)
            )
            by_kind = {BreakKind(kind): int(n) for kind, n in counts.all()}
        return ReconciliationRun(
            run_id=row.id,
            workflow_id=row.workflow_id,
            first_day=row.first_day,
            last_day=row.last_day,
            started_at=row.started_at,
            billing_documents=row.billing_documents,
            erp_postings=row.erp_postings,
            accounts=row.accounts,
            breaks_by_kind=by_kind,
        )

    async def latest_run(self) -> ReconciliationRun | None:
        """The newest run that was matched, if any."""
        async with self._store.engine.connect() as connection:
            run_id = (
                await connection.execute(select(func.max(RUNS.c.id)).where(RUNS.c.matched_at.is_not(None)))
            ).scalar()
        return None if run_id is None else await self.run(int(run_id))

    async def breaks(self, run_id: int) -> list[ReconciliationBreak]:
        async with self._store.engine.connect() as connection:
            rows = (await connection.execute(_breaks_query(run_id))).mappings().all()
        return [_break(row) for row in rows]

    @staticmethod
    async def _run_id(connection: AsyncConnection, run_key: str) -> int | None:
        found = await connection.execute(select(RUNS.c.id).where(RUNS.c.run_key == run_key))
        value = found.scalar()
        return None if value is None else int(value)


async def _copy(
    connection: AsyncConnection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL's COPY through asyncpg, in the connection's transaction: the fastest bulk load there is."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table, records=rows, columns=list(columns))


def _breaks_query(run_id: int, *, only_unfiled: bool = False) -> Any:
    statement = select(BREAKS).where(BREAKS.c.run_id == run_id)
    if only_unfiled:
        statement = statement.where(BREAKS.c.case_id.is_(None))
    return statement.order_by(BREAKS.c.kind, BREAKS.c.id)


def _money(minor: int | None, currency: str | None) -> Money | None:
    return None if minor is None or currency is None else Money.from_minor_units(int(minor), currency)


def _break(row: Any) -> ReconciliationBreak:
    kind = BreakKind(row["kind"])
    billing = _money(row["billing_minor"], row["billing_currency"])
    erp = _money(row["erp_minor"], row["erp_currency"])
    subject = _subject(kind, row)
    return ReconciliationBreak(
        kind=kind,
        subject=subject,
        description=_description(kind, subject, billing, erp, row["postings"]),
        billing=billing,
        erp=erp,
        case_id=row["case_id"],
    )


def _subject(kind: BreakKind, row: Any) -> str:
    if kind is BreakKind.DAILY_TOTAL_MISMATCH:
        return f"{row['day']}/{row['legal_entity']}/{row['billing_currency']}"
    if kind is BreakKind.BALANCE_MISMATCH:
        return f"{row['account']}/{row['billing_currency']}"
    return str(row["document_id"])


def _description(kind: BreakKind, subject: str, billing: Money | None, erp: Money | None, postings: int | None) -> str:
    match kind:
        case BreakKind.MISSING_IN_ERP:
            return f"billing document {subject} ({billing}) has no ERP posting"
        case BreakKind.MISSING_IN_BILLING:
            return f"ERP posting for {subject} ({erp}) has no billing document"
        case BreakKind.DUPLICATE_IN_ERP:
            return f"billing document {subject} is posted {postings} times in the ERP (together {erp})"
        case BreakKind.CURRENCY_MISMATCH:
            return f"billing document {subject} is in {billing}, its ERP posting in {erp}"
        case BreakKind.AMOUNT_MISMATCH:
            return f"billing document {subject} totals {billing}, its ERP posting {erp}"
        case BreakKind.OPEN_AR_MISMATCH:
            return f"billing says {billing} of {subject} is unpaid, the ERP's amount remaining is {erp}"
        case BreakKind.DAILY_TOTAL_MISMATCH:
            return f"documents of {subject} total {billing} in billing and {erp} in the ERP"
        case BreakKind.BALANCE_MISMATCH:
            return f"GL account {subject}: revenue engine {billing}, ERP {erp}"


__all__ = ["MATCHING", "ReconciliationStore"]
