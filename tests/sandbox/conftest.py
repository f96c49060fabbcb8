"""Fixtures for the emulator tests: a document store on SQLite or on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from sandbox.store import DocumentStore, sqlite_url

POSTGRES_DSN = os.environ.get("Q2C_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def postgres_schema() -> str:
    """A fresh schema in the test database, so runs never see each other's documents."""
    try:
        connection = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            raise  # CI promises a real PostgreSQL (.ci/run starts one); a skip there would hide a gap
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_DSN}: {error}")
    schema = f"q2c_test_{uuid.uuid4().hex[:12]}"
    await connection.execute(f'CREATE SCHEMA "{schema}"')
    await connection.close()
    return schema


def postgres_url() -> str:
    return POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def document_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    schema = None
    if request.param == "sqlite":
        store = DocumentStore(sqlite_url(tmp_path / "sandbox.sqlite"))
    else:
        schema = await postgres_schema()
        store = DocumentStore(postgres_url(), postgres_schema=schema)
    await store.open()
    yield store
    await store.close()
    if schema is not None:
        connection = await asyncpg.connect(POSTGRES_DSN)
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await connection.close()
