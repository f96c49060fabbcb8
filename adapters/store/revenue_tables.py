"""The built-in revenue engine's event log (`adapters.revenue_engine`), on the store's metadata and migrations.

Append-only. `sequence` is the engine's order of events, dense from 1: a writer inserts the number after the last
event it has seen, so two writers that decided on the same state collide on the primary key and the later one
re-reads and decides again. `idempotency_key` makes a retried write find the first, and `subject` (a document,
a payment, a period, a month of usage) makes the same business event recorded under another key find it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, UniqueConstraint
from sqlmodel import Field

from adapters.store.tables import StoreTable, UtcDateTime


class RevenueEventRow(StoreTable, table=True):
    __tablename__ = "revenue_events"
    __table_args__ = (UniqueConstraint("idempotency_key"), UniqueConstraint("subject"))

    sequence: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(sa_type=String(32))
    idempotency_key: str = Field(sa_type=String(255))
    subject: str | None = Field(default=None, sa_type=String(255))
    payload: dict[str, Any] = Field(sa_type=JSON)
    recorded_at: datetime = Field(sa_type=UtcDateTime)


__all__ = ["RevenueEventRow"]
