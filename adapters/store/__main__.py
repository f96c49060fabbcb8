"""Maintain the operational store's schema: `python -m adapters.store upgrade|current|revision|sql URL`.

python -m adapters.store upgrade sqlite+aiosqlite:///.q2c/store.sqlite
python -m adapters.store upgrade postgresql://postgres@127.0.0.1:5432/q2c --schema q2c
python -m adapters.store current URL
python -m adapters.store revision URL -m "exception case notes"   # autogenerates from tables.py
python -m adapters.store sql postgresql://...                       # the SQL, for a DBA to run
"""

from __future__ import annotations

import argparse
import asyncio

from alembic import command
from sqlalchemy import Connection

from adapters.store.database import (
    alembic_config,
    async_url,
    create_store_engine,
    current_revision,
    upgrade_to_head,
)


async def _revision(url: str, schema: str | None, message: str) -> None:
    engine = create_store_engine(url, schema=schema)

    def generate(connection: Connection) -> None:
        command.revision(alembic_config(connection), message=message, autogenerate=True)

    try:
        async with engine.connect() as connection:
            await connection.run_sync(generate)
    finally:
        await engine.dispose()


async def _current(url: str, schema: str | None) -> str | None:
    engine = create_store_engine(url, schema=schema)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.store", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["upgrade", "current", "revision", "sql"])
    parser.add_argument("url", help="sqlite+aiosqlite:///file or postgresql+asyncpg://...")
    parser.add_argument("--schema", help="PostgreSQL schema to keep the store in")
    parser.add_argument("-m", "--message", default="change", help="the new revision's message (revision)")
    args = parser.parse_args(argv)
    if args.action == "upgrade":
        asyncio.run(upgrade_to_head(args.url, schema=args.schema))
    elif args.action == "current":
        print(asyncio.run(_current(args.url, args.schema)) or "(empty)")
    elif args.action == "revision":
        asyncio.run(_revision(args.url, args.schema, args.message))
    else:
        config = alembic_config()
        config.set_main_option("sqlalchemy.url", async_url(args.url))
        command.upgrade(config, "head", sql=True)


if __name__ == "__main__":
    main()
