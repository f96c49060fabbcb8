"""The operational store as activities see it: record what each system calls things, what happened, what is stuck.

Activities hold an `OperationalStorePort`; `OperationalStore` implements it on SQLite or PostgreSQL. Every method
is safe to retry, as Temporal activities are: recording the same reference, appending an audit entry with the
same idempotency key, opening a case that is already open or repeating a resolution changes nothing.
"""

from __future__ import annotations

from typing import Protocol

from adapters.store.records import (
    AuditEntry,
    AuditRecord,
    CaseAction,
    CrossReference,
    EntityKind,
    ExceptionCase,
    OwnerRole,
)
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System


class OperationalStorePort(Protocol):
    async def record_reference(
        self,
        kind: EntityKind,
        canonical_id: str,
        system: System,
        external_id: str,
        saga_id: str,
        *,
        version: int | None = None,
    ) -> CrossReference:
        """Record `canonical_id`'s ID in `system` (contracts: per `version`); `DuplicateReference` on a conflict."""
        ...

    async def append_audit(self, entry: AuditEntry) -> AuditRecord:
        """Append to the tamper-evident audit chain; an already used `idempotency_key` returns its record."""
        ...

    async def open_case(
        self,
        workflow_id: str,
        category: ExceptionCategory,
        description: str,
        amount_at_risk: Money | None,
        *,
        owner: OwnerRole | None = None,
        opened_by: str = "system",
    ) -> ExceptionCase:
        """Open an exception case for a parked saga, or return the one already open for it and `category`."""
        ...

    async def resolve_case(self, case_id: int, by: str, action: CaseAction, reason: str) -> ExceptionCase:
        """Close a case with `action`, recording who and why; `CaseClosed` if it was closed differently."""
        ...
