"""q2c's operational store: cross-references between systems, a tamper-evident audit trail and the exception
queue, on SQLite (development) or PostgreSQL, with Alembic migrations. See `store.OperationalStore`.

The names below load on first use: activities import the port and the records (plain pydantic) on every
`q2c` command, and must not pay for SQLAlchemy and Alembic there."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.store.database import create_store_engine, session_factory, sqlite_url, upgrade_to_head
    from adapters.store.errors import AuditKeyConflict, CaseClosed, CaseNotFound, DuplicateReference, StoreError
    from adapters.store.port import OperationalStorePort
    from adapters.store.records import (
        DEFAULT_OWNERS,
        AuditChainBreak,
        AuditEntry,
        AuditEventKind,
        AuditRecord,
        CaseAction,
        CaseHistoryEntry,
        CaseStatus,
        ChainBreakKind,
        CrossReference,
        EntityKind,
        ExceptionCase,
        OwnerRole,
        default_owner,
    )
    from adapters.store.store import OperationalStore

__all__ = [
    "DEFAULT_OWNERS",
    "AuditChainBreak",
    "AuditEntry",
    "AuditEventKind",
    "AuditKeyConflict",
    "AuditRecord",
    "CaseAction",
    "CaseClosed",
    "CaseHistoryEntry",
    "CaseNotFound",
    "CaseStatus",
    "ChainBreakKind",
    "CrossReference",
    "DuplicateReference",
    "EntityKind",
    "ExceptionCase",
    "OperationalStore",
    "OperationalStorePort",
    "OwnerRole",
    "StoreError",
    "create_store_engine",
    "default_owner",
    "session_factory",
    "sqlite_url",
    "upgrade_to_head",
]

_MODULES = {
    "database": ("create_store_engine", "session_factory", "sqlite_url", "upgrade_to_head"),
    "errors": ("AuditKeyConflict", "CaseClosed", "CaseNotFound", "DuplicateReference", "StoreError"),
    "port": ("OperationalStorePort",),
    "store": ("OperationalStore",),
}


def __getattr__(name: str) -> Any:
    module = next((m for m, names in _MODULES.items() if name in names), "records" if name in __all__ else None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
