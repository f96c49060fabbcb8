"""q2c's operational store: cross-references between systems, a tamper-evident audit trail and the exception
queue, on SQLite (development) or PostgreSQL, with Alembic migrations. See `store.OperationalStore`."""

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
