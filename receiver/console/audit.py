"""Every console action goes to the operational store's tamper-evident audit trail: who, on which saga, what they
asked for, and what the saga answered (a refusal too, with the saga's reason)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from adapters.store import AuditEntry, AuditEventKind, AuditRecord, OperationalStore

CONSOLE_SOURCE = "finance console"


async def record_action(
    store: OperationalStore,
    kind: AuditEventKind,
    workflow_id: str,
    actor: str,
    note: str,
    outcome: Mapping[str, JsonValue],
) -> AuditRecord:
    """Append one console action; `outcome` says what was asked and what came of it."""
    entry = AuditEntry(
        kind=kind,
        workflow_id=workflow_id,
        correlation_id=workflow_id,
        actor=actor,
        note=note or None,
        posting_ack={"via": CONSOLE_SOURCE, **outcome},
    )
    return await store.append_audit(entry)
