"""Fixtures for the adapter tests: the revenue engine on an empty database, SQLite file or PostgreSQL schema.

The databases are the operational store's (`tests/store/conftest.py`): without a reachable PostgreSQL the
PostgreSQL half is skipped locally and fails in CI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.revenue_engine import BuiltInRevenueEngine
from tests.store.conftest import Database, database

__all__ = ["Database", "database", "revenue_engine"]


@pytest.fixture
async def revenue_engine(database: Database) -> AsyncIterator[BuiltInRevenueEngine]:
    """The built-in revenue engine on `database`, opened (migrated) and empty."""
    engine = BuiltInRevenueEngine(database.url, schema=database.schema)
    await engine.open()
    try:
        yield engine
    finally:
        await engine.aclose()
