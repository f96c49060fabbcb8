"""Fixtures for the operational store: each test gets an empty database, a SQLite file or a fresh PostgreSQL schema.

As in `tests/sandbox`: without a reachable PostgreSQL the PostgreSQL half is skipped locally, and fails in CI
(the `CI` variable), where a real PostgreSQL is promised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store import OperationalStore, sqlite_url

POSTGRES_DSN = os.environ.get("Q2C_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Database:
    """Where one test's store lives: `url` and, on PostgreSQL, the schema made for the test."""

    url: str
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return "postgresql" if self.schema is not None else "sqlite"


def _postgres_url() -> str:
    return POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _execute_on_postgres(statement: str) -> None:
    engine = create_async_engine(_postgres_url(), connect_args={"timeout": 5})
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _fresh_postgres_schema() -> str:
    schema = f"q2c_store_test_{uuid.uuid4().hex[:12]}"
    try:
        await _execute_on_postgres(f'CREATE SCHEMA "{schema}"')
    except (OSError, SQLAlchemyError) as error:
        if os.environ.get("CI"):
            raise  # CI promises a real PostgreSQL; a skip there would hide a gap
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_DSN}: {error}")
    return schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database: nothing migrated yet."""
    if request.param == "sqlite":
        yield Database(sqlite_url(tmp_path / "store.sqlite"))
        return
    schema = await _fresh_postgres_schema()
    try:
        yield Database(_postgres_url(), schema)
    finally:
        await _execute_on_postgres(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
async def store(database: Database) -> AsyncIterator[OperationalStore]:
    """The store on `database`, migrated to head."""
    opened = await OperationalStore.open(database.url, schema=database.schema)
    try:
        yield opened
    finally:
        await opened.close()


async def execute_sql(store: OperationalStore, statement: str, **params: object) -> None:
    """Run raw SQL against the store's tables, as someone with database access (not the store's API) would."""
    async with store.engine.begin() as connection:
        await connection.execute(text(statement), params)
