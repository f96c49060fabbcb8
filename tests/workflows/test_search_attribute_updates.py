"""How often a saga upserts its search attributes: once per status change (the shipped policy) or once per step."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from adapters.memory.reference_deals import incomplete_deal, reference_deal
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SearchAttributeUpdates
from tests.conftest import SagaHarness
from tests.workflows.test_closed_won import until
from workflows import search_attributes as sa
from workflows.closed_won import ClosedWonToSubscription
from workflows.closed_won_client import start_closed_won

Handle = WorkflowHandle[ClosedWonToSubscription, ClosedWonState]


async def upserted_names(handle: Handle) -> list[set[str]]:
    """The attribute names of each search-attribute upsert in the saga's history, in order."""
    upserts = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            upserts.append(set(fields))
    return upserts


async def start(saga: SagaHarness, opportunity: str, updates: SearchAttributeUpdates) -> Handle:
    policy = saga.policy.model_copy(update={"search_attribute_updates": updates})
    started = await start_closed_won(saga.client, opportunity, policy, saga.task_queue)
    return started.handle


async def test_a_saga_running_straight_through_upserts_once_when_it_completes(saga: SagaHarness) -> None:
    assert saga.policy.search_attribute_updates is SearchAttributeUpdates.STATUS_CHANGES  # as shipped
    handle = await start(saga, saga.seed(reference_deal()), SearchAttributeUpdates.STATUS_CHANGES)
    result = await handle.result()

    [upsert] = await upserted_names(handle)
    assert upsert == {
        "Q2cSagaStatus",
        "Q2cSagaStep",
        "Q2cCrmAccountId",
        "Q2cContractId",
        "Q2cAmountMinor",
        "Q2cCurrency",
    }
    attributes: Any = (await handle.describe()).typed_search_attributes
    assert (attributes.get(sa.SAGA_STATUS), attributes.get(sa.SAGA_STEP)) == ("completed", "done")
    assert attributes.get(sa.CONTRACT_ID) == result.contract_id
    assert attributes.get(sa.AMOUNT_MINOR) == 12_300_000
    assert attributes.get(sa.SAGA_TYPE) == "closed_won"  # from the start request, never upserted


async def test_a_parked_saga_shows_where_and_why_it_stopped(saga: SagaHarness) -> None:
    handle = await start(saga, saga.seed(incomplete_deal()), SearchAttributeUpdates.STATUS_CHANGES)
    parked = await until(handle, lambda state: state.status is SagaStatus.NEEDS_ATTENTION)

    # The park path opens an exception case under a patch, and the SDK records each patch in Temporal's own
    # TemporalChangeVersion attribute: that upsert is Temporal's, not the saga's.
    [upsert] = [names for names in await upserted_names(handle) if names != {"TemporalChangeVersion"}]
    assert upsert == {"Q2cSagaStatus", "Q2cSagaStep", "Q2cExceptionCategory", "Q2cCrmAccountId"}
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.SAGA_STATUS) == "needs_attention"
    assert attributes.get(sa.SAGA_STEP) == parked.step.value
    assert attributes.get(sa.EXCEPTION_CATEGORY) == "tax_failure"
    await handle.cancel()


async def test_every_step_upserts_each_step_as_sagas_did_before_the_setting(saga: SagaHarness) -> None:
    handle = await start(saga, saga.seed(reference_deal()), SearchAttributeUpdates.EVERY_STEP)
    await handle.result()

    upserts = await upserted_names(handle)
    assert len(upserts) == 8  # the first task's, one per step after it, and the completion
    assert all("Q2cSagaStep" in names for names in upserts[1:])
