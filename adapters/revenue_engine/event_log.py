"""The revenue engine's events in q2c's database (`adapters.store`: SQLite or PostgreSQL, migrated on open).

Appending is optimistic: the writer numbers its events from the last one it has seen, in one transaction. If
another writer got there first, the primary key (or the idempotency key, or the subject) collides, nothing is
written, and `EventConflict` tells the writer to read what the other one did and decide again. SQLite writers
take the write lock up front (`BEGIN IMMEDIATE`), as the store does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.revenue_engine.events import EventKind, RevenueEvent
from adapters.store.database import SQLITE_BEGIN_IMMEDIATE, create_store_engine, upgrade_engine
from adapters.store.revenue_tables import RevenueEventRow

EVENTS = RevenueEventRow.__table__  # type: ignore[attr-defined]


class EventConflict(Exception):
    """Another writer appended first: at this sequence number, or with this key or subject."""


@dataclass(frozen=True)
class StoredEvent:
    sequence: int
    event: RevenueEvent
    recorded_at: datetime


class RevenueEventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        """Wrap an engine made by `adapters.store.create_store_engine` whose schema is at head."""
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None) -> RevenueEventLog:
        """Connect to `url` (in PostgreSQL `schema`, if given) and run the store's migrations up to head."""
        engine = create_store_engine(url, schema=schema)
        try:
            await upgrade_engine(engine, schema=schema)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def events_after(self, sequence: int) -> list[StoredEvent]:
        """Every event numbered above `sequence`, in order."""
        statement = select(EVENTS).where(EVENTS.c.sequence > sequence).order_by(EVENTS.c.sequence)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_stored(row) for row in rows]

    async def append(self, after: int, events: Sequence[RevenueEvent]) -> None:
        """Write `events` as numbers `after + 1`, ... in one transaction; EventConflict if any of them is taken."""
        now = datetime.now(UTC)
        rows = [
            {
                "sequence": after + offset,
                "kind": event.kind.value,
                "idempotency_key": event.idempotency_key,
                "subject": event.subject,
                "payload": event.payload,
                "recorded_at": now,
            }
            for offset, event in enumerate(events, start=1)
        ]
        try:
            async with self._engine.connect() as connection:
                if self._sqlite:
                    await connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
                async with connection.begin():
                    await connection.execute(insert(EVENTS), rows)
        except IntegrityError as error:
            raise EventConflict(str(error.orig)) from error


def _stored(row: Any) -> StoredEvent:
    event = RevenueEvent(EventKind(row["kind"]), row["idempotency_key"], row["subject"], dict(row["payload"]))
    return StoredEvent(row["sequence"], event, row["recorded_at"])
