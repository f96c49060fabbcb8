"""q2c's operational store: cross-references, the audit chain and the exception queue, on SQLite or PostgreSQL.

    store = await OperationalStore.open("sqlite+aiosqlite:///.q2c/store.sqlite")   # migrates to head
    await store.record_reference(EntityKind.CUSTOMER, "001NW0000000001", System.BILLING, "cus_123", saga_id)
    await store.append_audit(AuditEntry(kind=AuditEventKind.POSTED, ...))
    await store.open_case(workflow_id, ExceptionCategory.CLOSED_PERIOD, "period 2026-06 is closed", amount)

Writes that must not interleave are serialised by the database: an audit append locks the chain-head row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's single write lock, taken up front with `BEGIN IMMEDIATE`, plus
an in-process lock so waiting writers queue on the event loop rather than in SQLite's busy handler). Unique
constraints back every idempotency rule, so a race between two processes ends in one row, never two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.store.audit import normalised_json, record_hash
from adapters.store.database import (
    SQLITE_BEGIN_IMMEDIATE,
    create_store_engine,
    is_sqlite_memory,
    session_factory,
    upgrade_engine,
)
from adapters.store.errors import AuditKeyConflict, CaseClosed, CaseNotFound, DuplicateReference
from adapters.store.port import OperationalStorePort
from adapters.store.records import (
    AuditChainBreak,
    AuditEntry,
    AuditRecord,
    CaseAction,
    CaseHistoryEntry,
    CaseStatus,
    ChainBreakKind,
    CrossReference,
    EntityKind,
    ExceptionCase,
    OwnerRole,
    default_owner,
)
from adapters.store.tables import (
    GENESIS_HASH,
    AuditChainHeadRow,
    AuditRecordRow,
    CaseHistoryRow,
    CrossReferenceRow,
    ExceptionCaseRow,
)
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System

UNVERSIONED = 0  # the version column's value for kinds without versions (NULLs would defeat the unique key)


def _now() -> datetime:
    return datetime.now(UTC)


def _required(value: str, what: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


class OperationalStore:
    """The store on one database. Open with `await OperationalStore.open(url)`; close with `await store.close()`."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Wrap an engine made by `database.create_store_engine` whose schema is already at head."""
        self._engine = engine
        self._sessions = session_factory(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        # An in-memory SQLite database is one shared connection: every transaction must wait its turn on it.
        self._serialise_reads = is_sqlite_memory(engine.url.render_as_string(hide_password=False))
        self._writer = asyncio.Lock()

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> OperationalStore:
        """Connect to `url` (in PostgreSQL `schema`, if given) and run the migrations up to head."""
        engine = create_store_engine(url, schema=schema)
        try:
            await upgrade_engine(engine, schema=schema)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def __aenter__(self) -> OperationalStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The async session factory, for queries the methods here do not offer (reconciliation, reports)."""
        return self._sessions

    @asynccontextmanager
    async def _transaction(self, *, write: bool = True, snapshot: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction; writers on SQLite take its write lock up front; `snapshot` reads one point in time."""
        options: dict[str, Any] = {}
        if write and self._sqlite:
            options[SQLITE_BEGIN_IMMEDIATE] = True
        if snapshot and not self._sqlite:
            options["isolation_level"] = "REPEATABLE READ"
        serialised = (write and self._sqlite) or self._serialise_reads
        lock: AbstractAsyncContextManager[Any] = self._writer if serialised else nullcontext()
        async with lock, self._sessions() as session, session.begin():
            await session.connection(execution_options=options)
            yield session

    # -- cross-references ------------------------------------------------------------------------------------

    async def record_reference(
        self,
        kind: EntityKind,
        canonical_id: str,
        system: System,
        external_id: str,
        saga_id: str,
        *,
        version: int | None = None,
    ) -> CrossReference:
        """Record that `kind` `canonical_id` (a contract: at `version`) is `external_id` in `system`.

        Idempotent: recording the same again returns the first record. A different `external_id` for the same
        entity and system raises `DuplicateReference`, naming both.
        """
        kind, system = EntityKind(kind), System(system)
        _required(canonical_id, "canonical_id")
        _required(external_id, "external_id")
        _required(saga_id, "saga_id")
        stored_version = self._stored_version(kind, version)
        row = CrossReferenceRow(
            kind=kind.value,
            canonical_id=canonical_id,
            version=stored_version,
            system=system.value,
            external_id=external_id,
            saga_id=saga_id,
            recorded_at=_now(),
        )
        try:
            async with self._transaction() as session:
                existing = await self._reference_row(session, kind, canonical_id, stored_version, system)
                if existing is None:
                    session.add(row)
        except IntegrityError:
            # Someone recorded the same key between our look and our insert; judge against theirs.
            async with self._transaction(write=False) as session:
                existing = await self._reference_row(session, kind, canonical_id, stored_version, system)
            if existing is None:
                raise
        if existing is None:
            return _reference(row)
        if existing.external_id != external_id:
            raise DuplicateReference(
                kind.value, canonical_id, version, system.value, existing.external_id, external_id, existing.saga_id
            )
        return _reference(existing)

    async def reference(
        self, kind: EntityKind, canonical_id: str, system: System, *, version: int | None = None
    ) -> CrossReference | None:
        """The cross-reference of one entity in one system, if recorded."""
        kind, system = EntityKind(kind), System(system)
        async with self._transaction(write=False) as session:
            row = await self._reference_row(session, kind, canonical_id, self._stored_version(kind, version), system)
        return None if row is None else _reference(row)

    async def external_id(
        self, kind: EntityKind, canonical_id: str, system: System, *, version: int | None = None
    ) -> str | None:
        """Canonical → system: the entity's ID in `system`, or None."""
        found = await self.reference(kind, canonical_id, system, version=version)
        return None if found is None else found.external_id

    async def references_of(
        self, kind: EntityKind, canonical_id: str, *, version: int | None = None
    ) -> dict[System, CrossReference]:
        """Everything one entity is known as, by system."""
        kind = EntityKind(kind)
        statement = select(CrossReferenceRow).where(
            col(CrossReferenceRow.kind) == kind.value,
            col(CrossReferenceRow.canonical_id) == canonical_id,
            col(CrossReferenceRow.version) == self._stored_version(kind, version),
        )
        async with self._transaction(write=False) as session:
            rows = (await session.exec(statement)).all()
        return {System(row.system): _reference(row) for row in rows}

    async def canonical_for(
        self, system: System, external_id: str, *, kind: EntityKind | None = None
    ) -> tuple[CrossReference, ...]:
        """System → canonical: what `external_id` in `system` is (several contract versions may share one ID)."""
        statement = select(CrossReferenceRow).where(
            col(CrossReferenceRow.system) == System(system).value, col(CrossReferenceRow.external_id) == external_id
        )
        if kind is not None:
            statement = statement.where(col(CrossReferenceRow.kind) == EntityKind(kind).value)
        statement = statement.order_by(
            col(CrossReferenceRow.kind), col(CrossReferenceRow.canonical_id), col(CrossReferenceRow.version)
        )
        async with self._transaction(write=False) as session:
            rows = (await session.exec(statement)).all()
        return tuple(_reference(row) for row in rows)

    @staticmethod
    def _stored_version(kind: EntityKind, version: int | None) -> int:
        if kind.versioned:
            if version is None or version < 1:
                raise ValueError(f"a {kind.value} reference needs its version (1 or more), not {version!r}")
            return version
        if version is not None:
            raise ValueError(f"{kind.value} references have no version; got {version!r}")
        return UNVERSIONED

    @staticmethod
    async def _reference_row(
        session: AsyncSession, kind: EntityKind, canonical_id: str, version: int, system: System
    ) -> CrossReferenceRow | None:
        statement = select(CrossReferenceRow).where(
            col(CrossReferenceRow.kind) == kind.value,
            col(CrossReferenceRow.canonical_id) == canonical_id,
            col(CrossReferenceRow.version) == version,
            col(CrossReferenceRow.system) == system.value,
        )
        return (await session.exec(statement)).first()

    # -- audit trail -----------------------------------------------------------------------------------------

    async def append_audit(self, entry: AuditEntry) -> AuditRecord:
        """Append `entry` to the chain and return the record with its position and hashes.

        With an `idempotency_key` already in the chain, returns that record instead (same content) or raises
        `AuditKeyConflict` (different content), so a retried activity never writes the same event twice.
        """
        async with self._transaction() as session:
            head_query = select(AuditChainHeadRow).where(col(AuditChainHeadRow.id) == 1).with_for_update()
            head = (await session.exec(head_query)).one()
            if entry.idempotency_key is not None:
                by_key = select(AuditRecordRow).where(col(AuditRecordRow.idempotency_key) == entry.idempotency_key)
                existing = (await session.exec(by_key)).first()
                if existing is not None:
                    record = _audit_record(existing)
                    if AuditEntry.model_validate(record.model_dump(include=set(AuditEntry.model_fields))) != entry:
                        raise AuditKeyConflict(entry.idempotency_key, existing.id)
                    return record
            row = AuditRecordRow(
                id=head.last_id + 1,
                recorded_at=_now(),
                kind=entry.kind.value,
                workflow_id=entry.workflow_id,
                run_id=entry.run_id,
                correlation_id=entry.correlation_id,
                actor=entry.actor,
                source_system=None if entry.source_system is None else entry.source_system.value,
                target_system=None if entry.target_system is None else entry.target_system.value,
                source_payload=normalised_json(entry.source_payload),
                mapping_version=entry.mapping_version,
                transformation=normalised_json(entry.transformation),
                posting_ack=normalised_json(entry.posting_ack),
                note=entry.note,
                idempotency_key=entry.idempotency_key,
                previous_hash=head.last_hash,
                hash="",
            )
            row.hash = record_hash(row)
            head.last_id, head.last_hash = row.id, row.hash
            session.add(row)
            session.add(head)
        return _audit_record(row)

    async def audit_records(
        self, *, workflow_id: str | None = None, correlation_id: str | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[AuditRecord]:
        """Records in chain order, optionally of one saga or correlation ID; page with `after_id`."""
        statement = select(AuditRecordRow).where(col(AuditRecordRow.id) > after_id)
        if workflow_id is not None:
            statement = statement.where(col(AuditRecordRow.workflow_id) == workflow_id)
        if correlation_id is not None:
            statement = statement.where(col(AuditRecordRow.correlation_id) == correlation_id)
        statement = statement.order_by(col(AuditRecordRow.id)).limit(limit)
        async with self._transaction(write=False) as session:
            rows = (await session.exec(statement)).all()
        return [_audit_record(row) for row in rows]

    async def audit_chain_head(self) -> tuple[int, str]:
        """The last record's position and hash: publish them elsewhere to detect a rewrite of the whole chain."""
        async with self._transaction(write=False) as session:
            head = await session.get(AuditChainHeadRow, 1)
        if head is None:
            raise RuntimeError("the audit chain head row is missing; run the migrations")
        return head.last_id, head.last_hash

    async def verify_audit_chain(self, *, batch_size: int = 1000) -> AuditChainBreak | None:
        """Recompute the chain from genesis; the first record where it breaks, and how, or None if it holds."""
        async with self._transaction(write=False, snapshot=True) as session:
            head = await session.get(AuditChainHeadRow, 1)
            expected_id, expected_previous = 1, GENESIS_HASH
            while True:
                page = (
                    select(AuditRecordRow)
                    .where(col(AuditRecordRow.id) >= expected_id)
                    .order_by(col(AuditRecordRow.id))
                    .limit(batch_size)
                )
                rows = (await session.exec(page)).all()
                if not rows:
                    break
                for row in rows:
                    if (found := _check_record(row, expected_id, expected_previous)) is not None:
                        return found
                    expected_id, expected_previous = row.id + 1, row.hash
                session.expunge_all()
        return _check_head(head, expected_id - 1, expected_previous)

    # -- exception queue -------------------------------------------------------------------------------------

    async def open_case(
        self,
        workflow_id: str,
        category: ExceptionCategory,
        description: str,
        amount_at_risk: Money | None,
        *,
        owner: OwnerRole | None = None,
        opened_by: str = "system",
    ) -> ExceptionCase:
        """Open a case for a parked saga; while one is open for this saga and category, return that one instead.

        `owner` defaults from the category (`records.DEFAULT_OWNERS`); `amount_at_risk` None means not known.
        """
        category = ExceptionCategory(category)
        resolved_owner = default_owner(category) if owner is None else OwnerRole(owner)
        _required(workflow_id, "workflow_id")
        _required(description, "description")
        _required(opened_by, "opened_by")
        try:
            async with self._transaction() as session:
                existing = await self._open_case_row(session, workflow_id, category)
                if existing is None:
                    now = _now()
                    row = ExceptionCaseRow(
                        workflow_id=workflow_id,
                        category=category.value,
                        description=description,
                        amount_at_risk=None if amount_at_risk is None else amount_at_risk.amount,
                        currency=None if amount_at_risk is None else amount_at_risk.currency,
                        owner=resolved_owner.value,
                        status=CaseStatus.OPEN.value,
                        opened_at=now,
                    )
                    session.add(row)
                    await session.flush()
                    assert row.id is not None
                    case_id = row.id
                    session.add(
                        CaseHistoryRow(
                            case_id=case_id, at=now, by=opened_by, what="opened", why=description, status=row.status
                        )
                    )
                else:
                    assert existing.id is not None
                    case_id = existing.id
        except IntegrityError:
            async with self._transaction(write=False) as session:  # a concurrent open of the same case won
                existing = await self._open_case_row(session, workflow_id, category)
            if existing is None or existing.id is None:
                raise
            case_id = existing.id
        return await self.case(case_id)

    async def resolve_case(self, case_id: int, by: str, action: CaseAction, reason: str) -> ExceptionCase:
        """Close a case: `dismiss` → dismissed, `resume`/`retry`/`compensate` → resolved; history says who and why.

        Repeating the same resolution (a retried activity) changes nothing; closing a closed case otherwise
        raises `CaseClosed`. Resuming, retrying or compensating the saga itself is the caller's business.
        """
        action = CaseAction(action)
        _required(by, "by")
        _required(reason, "reason")
        async with self._transaction() as session:
            row = await self._locked_case(session, case_id)
            if row.status != CaseStatus.OPEN:
                last = await self._last_history(session, case_id)
                if row.resolution != action.value or last is None or (last.by, last.why) != (by, reason):
                    raise CaseClosed(case_id, row.status, row.resolution)
            else:
                now = _now()
                row.status, row.resolution, row.closed_at = action.closes_as.value, action.value, now
                session.add(row)
                session.add(
                    CaseHistoryRow(case_id=case_id, at=now, by=by, what=action.value, why=reason, status=row.status)
                )
        return await self.case(case_id)

    async def reassign_case(self, case_id: int, owner: OwnerRole, by: str, reason: str) -> ExceptionCase:
        """Hand an open case to another team; a no-op if it already belongs to `owner`."""
        owner = OwnerRole(owner)
        _required(by, "by")
        _required(reason, "reason")
        async with self._transaction() as session:
            row = await self._locked_case(session, case_id)
            if row.status != CaseStatus.OPEN:
                raise CaseClosed(case_id, row.status, row.resolution)
            if row.owner != owner.value:
                row.owner = owner.value
                session.add(row)
                session.add(
                    CaseHistoryRow(
                        case_id=case_id,
                        at=_now(),
                        by=by,
                        what=f"reassigned to {owner.value}",
                        why=reason,
                        status=row.status,
                    )
                )
        return await self.case(case_id)

    async def case(self, case_id: int) -> ExceptionCase:
        async with self._transaction(write=False) as session:
            row = await session.get(ExceptionCaseRow, case_id)
            if row is None:
                raise CaseNotFound(case_id)
            cases = await self._with_history(session, [row])
        return cases[0]

    async def open_cases(
        self, *, category: ExceptionCategory | None = None, owner: OwnerRole | None = None
    ) -> list[ExceptionCase]:
        """Open cases, largest amount at risk first (unknown amounts last, then oldest first).

        Amounts in different currencies are ordered by their face value: the store holds no exchange rates.
        """
        statement = select(ExceptionCaseRow).where(col(ExceptionCaseRow.status) == CaseStatus.OPEN.value)
        if category is not None:
            statement = statement.where(col(ExceptionCaseRow.category) == ExceptionCategory(category).value)
        if owner is not None:
            statement = statement.where(col(ExceptionCaseRow.owner) == OwnerRole(owner).value)
        async with self._transaction(write=False) as session:
            rows = (await session.exec(statement)).all()
            cases = await self._with_history(session, rows)
        return sorted(cases, key=_queue_order)

    @staticmethod
    async def _open_case_row(
        session: AsyncSession, workflow_id: str, category: ExceptionCategory
    ) -> ExceptionCaseRow | None:
        statement = select(ExceptionCaseRow).where(
            col(ExceptionCaseRow.workflow_id) == workflow_id,
            col(ExceptionCaseRow.category) == category.value,
            col(ExceptionCaseRow.status) == CaseStatus.OPEN.value,
        )
        return (await session.exec(statement)).first()

    @staticmethod
    async def _locked_case(session: AsyncSession, case_id: int) -> ExceptionCaseRow:
        statement = select(ExceptionCaseRow).where(col(ExceptionCaseRow.id) == case_id).with_for_update()
        row = (await session.exec(statement)).first()
        if row is None:
            raise CaseNotFound(case_id)
        return row

    @staticmethod
    async def _last_history(session: AsyncSession, case_id: int) -> CaseHistoryRow | None:
        statement = (
            select(CaseHistoryRow)
            .where(col(CaseHistoryRow.case_id) == case_id)
            .order_by(col(CaseHistoryRow.id).desc())
            .limit(1)
        )
        return (await session.exec(statement)).first()

    @staticmethod
    async def _with_history(session: AsyncSession, rows: Sequence[ExceptionCaseRow]) -> list[ExceptionCase]:
        ids = [row.id for row in rows if row.id is not None]
        history: dict[int, list[CaseHistoryEntry]] = {case_id: [] for case_id in ids}
        if ids:
            statement = (
                select(CaseHistoryRow).where(col(CaseHistoryRow.case_id).in_(ids)).order_by(col(CaseHistoryRow.id))
            )
            for entry in (await session.exec(statement)).all():
                history[entry.case_id].append(
                    CaseHistoryEntry(
                        at=entry.at, by=entry.by, what=entry.what, why=entry.why, status=CaseStatus(entry.status)
                    )
                )
        return [_case(row, tuple(history[row.id])) for row in rows if row.id is not None]


def _reference(row: CrossReferenceRow) -> CrossReference:
    return CrossReference(
        kind=EntityKind(row.kind),
        canonical_id=row.canonical_id,
        version=None if row.version == UNVERSIONED else row.version,
        system=System(row.system),
        external_id=row.external_id,
        saga_id=row.saga_id,
        recorded_at=row.recorded_at,
    )


def _audit_record(row: AuditRecordRow) -> AuditRecord:
    return AuditRecord.model_validate(row.model_dump())


def _check_record(row: AuditRecordRow, expected_id: int, expected_previous: str) -> AuditChainBreak | None:
    if row.id != expected_id:
        return AuditChainBreak(
            record_id=row.id,
            kind=ChainBreakKind.MISSING_RECORD,
            expected=str(expected_id),
            found=str(row.id),
            message=f"audit record {expected_id} is missing: the chain goes from {expected_id - 1} to {row.id}",
        )
    if row.previous_hash != expected_previous:
        return AuditChainBreak(
            record_id=row.id,
            kind=ChainBreakKind.PREVIOUS_HASH,
            expected=expected_previous,
            found=row.previous_hash,
            message=f"audit record {row.id} does not follow record {row.id - 1}: its previous_hash is not that "
            "record's hash (records were reordered, replaced or re-chained)",
        )
    if (computed := record_hash(row)) != row.hash:
        return AuditChainBreak(
            record_id=row.id,
            kind=ChainBreakKind.CONTENT_HASH,
            expected=row.hash,
            found=computed,
            message=f"audit record {row.id} was changed after it was written: its content no longer hashes to "
            "the hash it carries",
        )
    return None


def _check_head(head: AuditChainHeadRow | None, last_id: int, last_hash: str) -> AuditChainBreak | None:
    if head is None:
        return AuditChainBreak(
            record_id=last_id,
            kind=ChainBreakKind.CHAIN_HEAD,
            expected="a chain head row",
            found="none",
            message="the audit chain head row is missing",
        )
    if (head.last_id, head.last_hash) == (last_id, last_hash):
        return None
    if head.last_id > last_id:
        record_id, message = last_id + 1, f"audit records {last_id + 1} to {head.last_id} are missing from the end"
    elif head.last_id < last_id:
        record_id, message = head.last_id + 1, f"audit records after {head.last_id} were added outside the store"
    else:
        record_id, message = last_id, f"audit record {last_id} is not the last record the chain head names"
    return AuditChainBreak(
        record_id=record_id,
        kind=ChainBreakKind.CHAIN_HEAD,
        expected=f"{head.last_id}:{head.last_hash}",
        found=f"{last_id}:{last_hash}",
        message=message,
    )


def _case(row: ExceptionCaseRow, history: tuple[CaseHistoryEntry, ...]) -> ExceptionCase:
    assert row.id is not None
    amount = None
    if row.amount_at_risk is not None and row.currency is not None:
        amount = Money(amount=row.amount_at_risk, currency=row.currency)
    return ExceptionCase(
        id=row.id,
        workflow_id=row.workflow_id,
        category=ExceptionCategory(row.category),
        description=row.description,
        amount_at_risk=amount,
        owner=OwnerRole(row.owner),
        status=CaseStatus(row.status),
        resolution=None if row.resolution is None else CaseAction(row.resolution),
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        history=history,
    )


def _queue_order(case: ExceptionCase) -> tuple[bool, Any, datetime, int]:
    amount = case.amount_at_risk
    return (amount is None, -amount.amount if amount is not None else 0, case.opened_at, case.id)


def _implements_port(store: OperationalStore) -> OperationalStorePort:
    return store  # mypy checks here that the store has every method of the port, with the same signature
