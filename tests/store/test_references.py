"""Cross-references: one canonical entity's ID in each system, recorded idempotently, looked up both ways."""

from __future__ import annotations

import asyncio

import pytest

from adapters.store import CrossReference, DuplicateReference, EntityKind, OperationalStore
from canonical.references import System

SAGA = "closed-won/006NW0000000001"
ACCOUNT = "001NW0000000001"


async def test_recording_a_reference_and_looking_it_up_both_ways(store: OperationalStore) -> None:
    recorded = await store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.BILLING, "cus_Nw1", SAGA)
    await store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.ERP, "1042", SAGA)
    await store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.CRM, ACCOUNT, SAGA)

    assert recorded.external_id == "cus_Nw1"
    assert recorded.saga_id == SAGA
    assert recorded.version is None
    assert await store.external_id(EntityKind.CUSTOMER, ACCOUNT, System.BILLING) == "cus_Nw1"
    assert await store.external_id(EntityKind.CUSTOMER, ACCOUNT, System.REVENUE) is None
    assert await store.external_id(EntityKind.CUSTOMER, "001NW0000000999", System.BILLING) is None
    assert {
        system: ref.external_id for system, ref in (await store.references_of(EntityKind.CUSTOMER, ACCOUNT)).items()
    } == {
        System.BILLING: "cus_Nw1",
        System.ERP: "1042",
        System.CRM: ACCOUNT,
    }
    assert [(r.kind, r.canonical_id) for r in await store.canonical_for(System.ERP, "1042")] == [
        (EntityKind.CUSTOMER, ACCOUNT)
    ]
    assert await store.canonical_for(System.ERP, "1042", kind=EntityKind.INVOICE) == ()
    assert await store.canonical_for(System.ERP, "9999") == ()


async def test_recording_the_same_reference_again_is_a_no_op(store: OperationalStore) -> None:
    first = await store.record_reference(EntityKind.SUBSCRIPTION, "C-1", System.BILLING, "sub_1", SAGA)
    again = await store.record_reference(EntityKind.SUBSCRIPTION, "C-1", System.BILLING, "sub_1", "a-retry")

    assert again == first  # the first record stands, saga and timestamp included
    assert len(await store.canonical_for(System.BILLING, "sub_1")) == 1


async def test_a_different_id_for_the_same_entity_and_system_is_refused_naming_both(store: OperationalStore) -> None:
    await store.record_reference(EntityKind.INVOICE, "INV-2026-0001", System.ERP, "INV-77", SAGA)

    with pytest.raises(DuplicateReference) as refused:
        await store.record_reference(EntityKind.INVOICE, "INV-2026-0001", System.ERP, "INV-78", "invoice/other")

    message = str(refused.value)
    assert "'INV-77'" in message and "'INV-78'" in message and SAGA in message
    assert "invoice INV-2026-0001" in message and "erp" in message
    assert (refused.value.existing_external_id, refused.value.attempted_external_id) == ("INV-77", "INV-78")
    assert await store.external_id(EntityKind.INVOICE, "INV-2026-0001", System.ERP) == "INV-77"


async def test_the_same_id_may_belong_to_different_kinds_and_systems(store: OperationalStore) -> None:
    await store.record_reference(EntityKind.PAYMENT, "PAY-1", System.BILLING, "X-1", SAGA)
    await store.record_reference(EntityKind.CREDIT_NOTE, "CN-1", System.BILLING, "X-1", SAGA)
    await store.record_reference(EntityKind.JOURNAL, "J-1", System.ERP, "X-1", SAGA)
    await store.record_reference(EntityKind.REVENUE_CONTRACT, "C-1", System.REVENUE, "X-1", SAGA)

    assert {r.kind for r in await store.canonical_for(System.BILLING, "X-1")} == {
        EntityKind.PAYMENT,
        EntityKind.CREDIT_NOTE,
    }


async def test_contract_references_are_per_version(store: OperationalStore) -> None:
    await store.record_reference(EntityKind.CONTRACT, "C-1", System.CRM, "006NW0000000001", SAGA, version=1)
    await store.record_reference(EntityKind.CONTRACT, "C-1", System.CRM, "006NW0000000042", "amend", version=2)
    await store.record_reference(EntityKind.CONTRACT, "C-1", System.BILLING, "sub_1", SAGA, version=1)
    await store.record_reference(EntityKind.CONTRACT, "C-1", System.BILLING, "sub_1", "amend", version=2)

    assert await store.external_id(EntityKind.CONTRACT, "C-1", System.CRM, version=1) == "006NW0000000001"
    assert await store.external_id(EntityKind.CONTRACT, "C-1", System.CRM, version=2) == "006NW0000000042"
    assert [r.version for r in await store.canonical_for(System.BILLING, "sub_1")] == [1, 2]
    with pytest.raises(DuplicateReference, match="contract C-1 version 2"):
        await store.record_reference(EntityKind.CONTRACT, "C-1", System.CRM, "006NW0000000043", "x", version=2)
    with pytest.raises(ValueError, match="needs its version"):
        await store.record_reference(EntityKind.CONTRACT, "C-1", System.CRM, "006", SAGA)
    with pytest.raises(ValueError, match="have no version"):
        await store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.CRM, ACCOUNT, SAGA, version=1)


async def test_racing_records_of_one_reference_leave_one_row(store: OperationalStore) -> None:
    results = await asyncio.gather(
        *(store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.BILLING, "cus_Nw1", f"s{i}") for i in range(10))
    )

    assert len({r.saga_id for r in results}) == 1
    assert all(isinstance(r, CrossReference) for r in results)
    assert len(await store.canonical_for(System.BILLING, "cus_Nw1")) == 1


async def test_empty_ids_are_refused(store: OperationalStore) -> None:
    with pytest.raises(ValueError, match="external_id"):
        await store.record_reference(EntityKind.CUSTOMER, ACCOUNT, System.BILLING, " ", SAGA)
