"""The audit trail: an append-only hash chain that shows any edit, deletion or reordering made behind its back."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal

import pytest
from pydantic import ValidationError

from adapters.store import (
    AuditEntry,
    AuditEventKind,
    AuditKeyConflict,
    ChainBreakKind,
    OperationalStore,
)
from adapters.store.audit import canonical_json, record_content
from adapters.store.tables import GENESIS_HASH, AuditRecordRow
from canonical.money import Money
from canonical.references import System
from tests.store.conftest import execute_sql

WORKFLOW = "closed-won/006NW0000000001"


def _entry(n: int = 0, **changes: object) -> AuditEntry:
    fields: dict[str, object] = {
        "kind": AuditEventKind.POSTED,
        "workflow_id": WORKFLOW,
        "run_id": "7f7c0b9e-run",
        "correlation_id": f"corr-{n}",
        "actor": "system",
        "source_system": System.CRM,
        "target_system": System.BILLING,
        "source_payload": {"Id": "006NW0000000001", "Amount": 123000.0, "Lines": [{"Qty": 100, "Name": "Seats ✓"}]},
        "mapping_version": "2026.11.1",
        "transformation": {"outcome": "mapped", "contract": {"total": "123000.00", "currency": "USD"}},
        "posting_ack": {"id": f"sub_{n}", "status": "active"},
    }
    fields.update(changes)
    return AuditEntry.model_validate(fields)


async def _append(store: OperationalStore, count: int) -> None:
    for n in range(count):
        await store.append_audit(_entry(n))


async def test_records_carry_everything_and_chain_from_genesis(store: OperationalStore) -> None:
    first = await store.append_audit(_entry(1))
    approval = await store.append_audit(
        AuditEntry(
            kind=AuditEventKind.APPROVAL,
            workflow_id=WORKFLOW,
            correlation_id="corr-2",
            actor="fiona.finance",
            note="30% discount approved for a three-year term",
        )
    )

    assert (first.id, approval.id) == (1, 2)
    assert first.previous_hash == GENESIS_HASH
    assert approval.previous_hash == first.hash
    content = record_content(AuditRecordRow.model_validate(first.model_dump()))
    assert first.hash == hashlib.sha256((GENESIS_HASH + canonical_json(content)).encode()).hexdigest()
    assert first.source_payload == _entry(1).source_payload
    assert first.transformation == {"outcome": "mapped", "contract": {"total": "123000.00", "currency": "USD"}}
    assert first.mapping_version == "2026.11.1"
    assert first.posting_ack == {"id": "sub_1", "status": "active"}
    assert (first.workflow_id, first.run_id, first.correlation_id) == (WORKFLOW, "7f7c0b9e-run", "corr-1")
    assert first.recorded_at.tzinfo is not None
    assert (approval.actor, approval.kind) == ("fiona.finance", AuditEventKind.APPROVAL)

    stored = await store.audit_records()
    assert stored == [first, approval]  # read back exactly as appended
    assert await store.audit_records(correlation_id="corr-2") == [approval]
    assert await store.audit_chain_head() == (2, approval.hash)
    assert await store.verify_audit_chain() is None


async def test_models_are_snapshotted_as_json(store: OperationalStore) -> None:
    record = await store.append_audit(
        _entry(source_payload=Money(amount=Decimal("0.10"), currency="USD"), transformation=None, mapping_version=None)
    )

    assert record.source_payload == {"amount": "0.10", "currency": "USD"}
    assert await store.verify_audit_chain() is None


def test_a_transformation_needs_its_mapping_version() -> None:
    with pytest.raises(ValidationError, match="mapping_version"):
        _entry(mapping_version=None)


def test_the_store_offers_no_way_to_change_or_remove_audit_records() -> None:
    names = {name for name in dir(OperationalStore) if "audit" in name}
    assert names == {"append_audit", "audit_records", "audit_chain_head", "verify_audit_chain"}


async def test_an_edited_payload_is_caught(store: OperationalStore) -> None:
    await _append(store, 5)

    await execute_sql(
        store, """UPDATE audit_records SET source_payload = '{"Id": "006NW0000000001", "Amount": 1.0}' WHERE id = 3"""
    )

    broken = await store.verify_audit_chain()
    assert broken is not None
    assert (broken.record_id, broken.kind) == (3, ChainBreakKind.CONTENT_HASH)
    assert "changed after it was written" in str(broken)


async def test_an_edited_actor_is_caught(store: OperationalStore) -> None:
    await _append(store, 3)

    await execute_sql(store, "UPDATE audit_records SET actor = 'mallory' WHERE id = 2")

    broken = await store.verify_audit_chain()
    assert broken is not None and (broken.record_id, broken.kind) == (2, ChainBreakKind.CONTENT_HASH)


async def test_a_deleted_record_in_the_middle_is_caught(store: OperationalStore) -> None:
    await _append(store, 5)

    await execute_sql(store, "DELETE FROM audit_records WHERE id = 3")

    broken = await store.verify_audit_chain()
    assert broken is not None
    assert (broken.record_id, broken.kind, broken.expected, broken.found) == (
        4,
        ChainBreakKind.MISSING_RECORD,
        "3",
        "4",
    )
    assert "audit record 3 is missing" in str(broken)


async def test_a_deleted_and_renumbered_record_is_caught(store: OperationalStore) -> None:
    await _append(store, 5)

    await execute_sql(store, "DELETE FROM audit_records WHERE id = 3")
    await execute_sql(store, "UPDATE audit_records SET id = id - 1 WHERE id > 3")

    broken = await store.verify_audit_chain()
    assert broken is not None and (broken.record_id, broken.kind) == (3, ChainBreakKind.PREVIOUS_HASH)


async def test_deleted_records_at_the_end_are_caught(store: OperationalStore) -> None:
    await _append(store, 5)

    await execute_sql(store, "DELETE FROM audit_records WHERE id >= 4")

    broken = await store.verify_audit_chain()
    assert broken is not None and (broken.record_id, broken.kind) == (4, ChainBreakKind.CHAIN_HEAD)
    assert "4 to 5 are missing" in str(broken)


async def test_swapped_hashes_are_caught(store: OperationalStore) -> None:
    await _append(store, 5)
    records = await store.audit_records()

    await execute_sql(store, "UPDATE audit_records SET hash = :hash WHERE id = 2", hash="f" * 64)
    await execute_sql(store, "UPDATE audit_records SET hash = :hash WHERE id = 4", hash=records[1].hash)
    await execute_sql(store, "UPDATE audit_records SET hash = :hash WHERE id = 2", hash=records[3].hash)

    broken = await store.verify_audit_chain()
    assert broken is not None
    assert (broken.record_id, broken.kind, broken.expected) == (2, ChainBreakKind.CONTENT_HASH, records[3].hash)


async def test_reordered_records_are_caught(store: OperationalStore) -> None:
    await _append(store, 5)

    # Swap the positions of records 2 and 3 (through a free id, to pass the primary key).
    await execute_sql(store, "UPDATE audit_records SET id = 100 WHERE id = 2")
    await execute_sql(store, "UPDATE audit_records SET id = 2 WHERE id = 3")
    await execute_sql(store, "UPDATE audit_records SET id = 3 WHERE id = 100")

    broken = await store.verify_audit_chain()
    assert broken is not None and (broken.record_id, broken.kind) == (2, ChainBreakKind.PREVIOUS_HASH)


async def test_a_rehashed_edit_still_breaks_the_link_to_the_next_record(store: OperationalStore) -> None:
    """Whoever edits a record and recomputes its hash must also rewrite every later record and the head."""
    await _append(store, 4)
    records = await store.audit_records()
    forged = records[1].model_copy(update={"actor": "mallory"})
    row = AuditRecordRow.model_validate(forged.model_dump())
    from adapters.store.audit import record_hash

    await execute_sql(
        store, "UPDATE audit_records SET actor = 'mallory', hash = :hash WHERE id = 2", hash=record_hash(row)
    )

    broken = await store.verify_audit_chain()
    assert broken is not None and (broken.record_id, broken.kind) == (3, ChainBreakKind.PREVIOUS_HASH)


async def test_fifty_concurrent_appends_make_one_unbroken_chain(store: OperationalStore) -> None:
    records = await asyncio.gather(*(store.append_audit(_entry(n)) for n in range(50)))

    assert sorted(r.id for r in records) == list(range(1, 51))
    by_id = {r.id: r for r in records}
    assert all(by_id[i + 1].previous_hash == by_id[i].hash for i in range(1, 50))
    assert await store.audit_chain_head() == (50, by_id[50].hash)
    assert await store.verify_audit_chain(batch_size=7) is None  # pages of 7 cross every kind of boundary


async def test_two_stores_on_one_database_append_to_one_chain(store: OperationalStore) -> None:
    """Two processes (here: two engines) share the chain; the database, not an in-process lock, serialises them."""
    url = store.engine.url.render_as_string(hide_password=False)
    schema = None
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as connection:
            schema = (await connection.exec_driver_sql("SELECT current_schema()")).scalar_one()
    other = await OperationalStore.open(url, schema=schema)
    try:
        await asyncio.gather(*(s.append_audit(_entry(n)) for n in range(20) for s in (store, other)))
    finally:
        await other.close()

    assert (await store.audit_chain_head())[0] == 40
    assert await store.verify_audit_chain() is None


async def test_an_idempotency_key_makes_a_retried_append_a_no_op(store: OperationalStore) -> None:
    first = await store.append_audit(_entry(1, idempotency_key=f"{WORKFLOW}/subscription"))
    again = await store.append_audit(_entry(1, idempotency_key=f"{WORKFLOW}/subscription"))

    assert again == first
    assert len(await store.audit_records()) == 1
    with pytest.raises(AuditKeyConflict, match="subscription"):
        await store.append_audit(_entry(2, idempotency_key=f"{WORKFLOW}/subscription"))
    assert await store.verify_audit_chain() is None
