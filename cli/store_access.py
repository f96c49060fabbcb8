"""Opening q2c's operational store from a command: `--database`, else `Q2C_DATABASE_URL`, else the worker's file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from adapters.store.store import OperationalStore
from cli.context import CliError
from workers.vendor_systems import database_url_from_env

DATABASE_HELP = (
    "q2c's database (sqlite:///FILE or postgresql://...; default $Q2C_DATABASE_URL or .q2c/worker/q2c.sqlite)"
)


def database_url(given: str | None) -> str:
    """The database a command reads: `given`, or where the worker keeps it by default."""
    return given or database_url_from_env(Path(".q2c/worker"))


@asynccontextmanager
async def opened_store(given: str | None) -> AsyncIterator[OperationalStore]:
    """The store at `given` (see `database_url`); a SQLite file that does not exist is refused, not created."""
    url = database_url(given)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CliError(f"not a database URL: {url!r} (sqlite:///FILE or postgresql://user@host/db)") from None
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        raise CliError(f"no q2c database at {parsed.database} (run `q2c demo` first, or pass --database)")
    try:
        store = await OperationalStore.open(url)
    except (ValueError, OSError, SQLAlchemyError) as error:
        raise CliError(f"cannot open q2c's database {url}: {error}") from None
    try:
        yield store
    finally:
        await store.close()
