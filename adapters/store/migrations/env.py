"""Alembic's environment for the operational store.

Run programmatically: `adapters.store.database.upgrade_to_head(url)` (or `python -m adapters.store`) hands a
connection, already in a transaction, through `config.attributes["connection"]`; the migrations run on it and
commit or roll back with it. Offline mode (`python -m adapters.store sql URL`) prints the SQL instead.

Migrations are frozen: the store's own column types are rendered as plain SQLAlchemy types, so a revision
never depends on how `tables.py` looks later.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from adapters.store.tables import ExactDecimal, UtcDateTime, metadata

config = context.config

SQLITE_NUMERIC = 'sa.Numeric().with_variant(sa.String(length=64), "sqlite")'


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    if type_ == "type" and isinstance(obj, ExactDecimal):
        return SQLITE_NUMERIC
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    if isinstance(metadata_type, ExactDecimal | UtcDateTime):
        # Compare what the type is on this dialect (a decimal is text on SQLite).
        dialect_type = metadata_type.dialect_impl(context.dialect)
        return bool(context.impl.compare_type(inspected_column, _with_type(metadata_column, dialect_type)))
    return None  # Alembic's own comparison


def _with_type(column: Any, type_: Any) -> Any:
    copy = column._copy()
    copy.type = type_
    return copy


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "render_as_batch": dialect_name == "sqlite",  # SQLite alters tables by copying them
        "render_item": render_item,
        "compare_type": compare_type,
    }


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("offline migrations need sqlalchemy.url")
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options(dialect_name))
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    shared = config.attributes.get("connection")
    if not isinstance(shared, Connection):
        raise RuntimeError(
            "run the store's migrations through adapters.store.database.upgrade_to_head or `python -m adapters.store`"
        )
    run_online(shared)
