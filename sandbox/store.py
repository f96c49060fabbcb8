"""Durable state for the vendor emulators: JSON documents in SQLite by default, PostgreSQL when configured.

Each emulator keeps its records as documents in named collections. Writes go through `transaction()`, which
serialises them (the vendors' own APIs are consistent per record, and the emulators need no more), so an
idempotency check and the write it guards happen atomically.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

Document = dict[str, Any]

_metadata = MetaData()
_documents = Table(
    "sandbox_documents",
    _metadata,
    Column("collection", String(64), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("body", JSON, nullable=False),
)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class DocumentStore:
    def __init__(self, url: str, *, postgres_schema: str | None = None) -> None:
        """`url`: `sqlite+aiosqlite:///file` (default) or `postgresql+asyncpg://...`, in `postgres_schema` if given."""
        connect_args = {"server_settings": {"search_path": postgres_schema}} if postgres_schema else {}
        self._engine: AsyncEngine = create_async_engine(url, connect_args=connect_args)
        self._schema = postgres_schema
        self._lock = asyncio.Lock()

    async def open(self) -> DocumentStore:
        async with self._engine.begin() as connection:
            if self._schema:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"'))
            await connection.run_sync(_metadata.create_all)
        return self

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._lock, self._engine.begin() as connection:
            yield Transaction(connection)

    async def get(self, collection: str, doc_id: str) -> Document | None:
        async with self.transaction() as tx:
            return await tx.get(collection, doc_id)

    async def find(self, collection: str, **equals: Any) -> list[Document]:
        async with self.transaction() as tx:
            return await tx.find(collection, **equals)


class Transaction:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, collection: str, doc_id: str) -> Document | None:
        row = (
            await self._connection.execute(
                select(_documents.c.body).where(and_(_documents.c.collection == collection, _documents.c.id == doc_id))
            )
        ).first()
        return None if row is None else _decoded(row[0])

    async def find(self, collection: str, **equals: Any) -> list[Document]:
        """Documents of `collection` whose top-level fields equal `equals`, in creation order."""
        rows = await self._connection.execute(
            select(_documents.c.body).where(_documents.c.collection == collection).order_by(_documents.c.seq)
        )
        documents = [_decoded(row[0]) for row in rows]
        return [d for d in documents if all(d.get(k) == v for k, v in equals.items())]

    async def put(self, collection: str, doc_id: str, body: Mapping[str, Any]) -> None:
        encoded = json.loads(json.dumps(body, default=str))
        if await self.get(collection, doc_id) is not None:
            await self._connection.execute(
                update(_documents)
                .where(and_(_documents.c.collection == collection, _documents.c.id == doc_id))
                .values(body=encoded)
            )
            return
        await self._connection.execute(
            insert(_documents).values(
                collection=collection, id=doc_id, seq=await self.count(collection) + 1, body=encoded
            )
        )

    async def count(self, collection: str) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(_documents).where(_documents.c.collection == collection)
        )
        return int(result.scalar_one())


def _decoded(body: Any) -> Document:
    return json.loads(body) if isinstance(body, str) else dict(body)
