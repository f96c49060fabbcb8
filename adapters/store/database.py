"""Engines, sessions and migrations for the operational store.

URLs: `sqlite+aiosqlite:///path/to/q2c.sqlite` (the default for development) or `postgresql+asyncpg://...`;
the plain `sqlite:///` and `postgresql://` spellings are accepted and given their async driver. On PostgreSQL
the store can live in its own schema (`schema=`), which is put first on the connection's search path, so
the tables and Alembic's version table are created and found there.

Migrations are Alembic's, run programmatically (`upgrade_to_head`) on one connection in one transaction:
Alembic gets the connection through `Config.attributes["connection"]` and `migrations/env.py` runs on it.
Concurrent upgrades (several workers starting at once) queue on a transaction-level advisory lock on
PostgreSQL and on SQLite's write lock (`BEGIN IMMEDIATE`), so the second finds the first's work done.

SQLite's Python driver starts transactions late and on its own terms; here, as SQLAlchemy recommends, the
driver's transaction handling is switched off and the engine emits `BEGIN` itself. A connection with the
execution option `sqlite_begin_immediate=True` begins with `BEGIN IMMEDIATE` instead: it takes SQLite's
single write lock up front, which is how writers are serialised across processes.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BEGIN_IMMEDIATE = "sqlite_begin_immediate"
WAL_SWITCH_ATTEMPTS = 25  # backing off 20 ms more each time: about 6.5 s in all
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def sqlite_url(path: Path | str) -> str:
    return f"sqlite+aiosqlite:///{path}"


def async_url(url: str) -> str:
    """`url` with its async driver: `postgresql://` → `postgresql+asyncpg://`, `sqlite://` → `sqlite+aiosqlite://`."""
    parsed = make_url(url)
    if parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    if parsed.drivername not in _ASYNC_DRIVERS.values():
        raise ValueError(
            f"the operational store runs on sqlite+aiosqlite or postgresql+asyncpg, not {parsed.drivername!r}"
        )
    return parsed.render_as_string(hide_password=False)


def create_store_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for the store; on PostgreSQL, `schema` (if given) comes first on the search path."""
    url = async_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("schema= is for PostgreSQL; a SQLite store is its file")
        if not is_sqlite_memory(url):
            Path(str(make_url(url).database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _take_over_sqlite_transactions(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": _checked_schema(schema)}
    return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True)


def is_sqlite_memory(url: str) -> bool:
    """An in-memory SQLite database: one connection, shared (so fit for tests, not for concurrent use)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`; objects stay readable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the store's migrations, without an ini file; on `connection` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_to_head(url: str, *, schema: str | None = None) -> None:
    """Create or upgrade the store's tables at `url` to the newest migration; a no-op when already there."""
    engine = create_store_engine(url, schema=schema)
    try:
        await upgrade_engine(engine, schema=schema)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, *, schema: str | None = None) -> None:
    async with engine.connect() as connection:
        await connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
        async with connection.begin():
            await connection.run_sync(_upgrade, schema)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (None before the first)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def _upgrade(connection: Connection, schema: str | None) -> None:
    if connection.dialect.name == "postgresql":
        # Serialise concurrent upgrades of the same schema; released when this transaction ends.
        key = f"q2c.store.migrations.{schema or 'public'}"
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        if schema is not None:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{_checked_schema(schema)}"'))
    command.upgrade(alembic_config(connection), "head")


def _checked_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    return schema


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode, where readers do not wait for the writer.

    The switch needs the file to itself and SQLite answers "database is locked" at once rather than wait (its busy
    timeout does not cover it), so when several connections open a new store together (a worker and the
    receiver starting, concurrent upgrades) the losers retry for a while; the mode then sticks to the file.
    """
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as error:  # the driver's OperationalError, wrapped by SQLAlchemy's async adapter
            if "database is locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            await_only(asyncio.sleep(0.02 * (attempt + 1)))


def _take_over_sqlite_transactions(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # the engine says BEGIN, not the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        _use_wal(cursor)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
