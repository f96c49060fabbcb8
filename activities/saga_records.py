"""What an activity tells the operational store: the IDs each system gave a canonical entity (cross-references)
and what happened (the hash-chained audit trail), stamped with the saga that did it.

Every activity records through `SagaRecords`, which reads the saga from `activity.info()`: the workflow ID is
the saga ID and the correlation ID (the same value other helpers send as an HTTP header and a span attribute),
the run ID is the run's. Audit entries carry the idempotency key
`<workflow id>/<activity>/<what>@<run id>#<activity id>`: the same on every attempt of one scheduled activity, so
a retried activity appends nothing twice, and different for a step run again after someone fixed its cause.

Recording never fails a saga on its own account: the vendor write it records has happened, and the saga must
carry on. A store that cannot be reached raises (Temporal retries the activity; every write in it is idempotent);
a conflicting reference or a reused audit key is logged and the first record stands.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity

from adapters.store.errors import AuditKeyConflict, DuplicateReference
from adapters.store.port import OperationalStorePort
from adapters.store.records import AuditEntry, AuditEventKind, EntityKind
from canonical.references import System

SYSTEM_ACTOR = "system"


def snapshot(value: BaseModel | None) -> dict[str, Any] | None:
    """A model as the JSON the audit trail keeps: amounts as decimal strings, dates ISO 8601."""
    return None if value is None else value.model_dump(mode="json")


class SagaRecords:
    """The store as one activity sees it; records nothing when the worker runs without a store."""

    def __init__(self, store: OperationalStorePort | None) -> None:
        self._store = store

    async def reference(
        self, kind: EntityKind, canonical_id: str, system: System, external_id: str, *, version: int | None = None
    ) -> None:
        """`canonical_id` (a contract: at `version`) is `external_id` in `system`, as recorded by this saga."""
        if self._store is None:
            return
        try:
            await self._store.record_reference(kind, canonical_id, system, external_id, saga_id(), version=version)
        except DuplicateReference as conflict:
            # The first saga's reference stands; reconciliation reports the disagreement.
            activity.logger.warning("operational store kept the earlier reference: %s", conflict)

    async def audit(
        self,
        kind: AuditEventKind,
        what: str,
        *,
        actor: str = SYSTEM_ACTOR,
        source_system: System | None = None,
        target_system: System | None = None,
        source_payload: BaseModel | None = None,
        mapping_version: str | None = None,
        transformation: dict[str, Any] | None = None,
        posting_ack: BaseModel | dict[str, Any] | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Append one audit record for this activity; `what` names it within the activity (its key's last part).

        `idempotency_key` replaces the activity's own key for an event someone else may record too (a case's
        resolution, recorded by whichever of the saga and the resolving person comes first)."""
        if self._store is None:
            return
        info = activity.info()
        entry = AuditEntry(
            kind=kind,
            workflow_id=saga_id(),
            run_id=info.workflow_run_id,
            correlation_id=saga_id(),
            actor=actor,
            source_system=source_system,
            target_system=target_system,
            source_payload=snapshot(source_payload),
            mapping_version=mapping_version,
            transformation=transformation,
            posting_ack=posting_ack if isinstance(posting_ack, dict) or posting_ack is None else snapshot(posting_ack),
            note=note,
            idempotency_key=idempotency_key or audit_key(what),
        )
        try:
            await self._store.append_audit(entry)
        except AuditKeyConflict as conflict:
            # An earlier attempt of this very activity recorded it (a source re-read may differ): keep the first.
            activity.logger.warning("operational store kept the earlier audit record: %s", conflict)

    async def posted(
        self, target: System, what: str, ack: BaseModel | dict[str, Any] | None, note: str | None = None
    ) -> None:
        """A write to `target` and its acknowledgement."""
        await self.audit(AuditEventKind.POSTED, what, target_system=target, posting_ack=ack, note=note)

    async def compensated(self, target: System, what: str, undone_id: str | None) -> None:
        note = f"undid {undone_id}" if undone_id else "nothing to undo"
        await self.audit(
            AuditEventKind.COMPENSATED, what, target_system=target, posting_ack={"undone_id": undone_id}, note=note
        )

    async def approval(self, approver: str, approved: bool, what: str, note: str = "") -> None:
        """A person's decision. Keyed by the run, not the activity: the saga may pass it to several activities
        (the write-back, then the CRM told of a compensation), and it is one decision."""
        verdict = "approved" if approved else "rejected"
        info = activity.info()
        await self.audit(
            AuditEventKind.APPROVAL,
            what,
            actor=approver,
            note=f"{verdict} {what}: {note}".rstrip(": "),
            idempotency_key=f"{saga_id()}/approval/{what}@{info.workflow_run_id}",
        )


def saga_id() -> str:
    """The running activity's saga: its workflow ID (an activity outside a workflow has none)."""
    workflow_id = activity.info().workflow_id
    if not workflow_id:
        raise RuntimeError("q2c's activities run inside sagas; this one has no workflow ID")
    return workflow_id


def audit_key(what: str) -> str:
    info = activity.info()
    return f"{saga_id()}/{info.activity_type}/{what}@{info.workflow_run_id}#{info.activity_id}"
