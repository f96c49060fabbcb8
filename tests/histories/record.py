"""Record the workflow histories the replay test guards: `python -m tests.histories.record`.

Re-record only on purpose, when a workflow change is meant to be incompatible and is guarded by a patch or a
new worker version; otherwise the replay test is what tells you a change broke running sagas.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.errors import PermanentAdapterError
from adapters.memory.reference_deals import incomplete_deal, non_standard_deal, reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.crm_deal import CrmDeal
from canonical.references import System
from canonical.saga import ApprovalDecision, ClosedWonState, Resubmission, SagaStatus
from workers.closed_won_worker import build_worker
from workers.config_files import load_mapping_rules, load_saga_policy
from workers.dev_server import temporal_cli_path
from workflows import search_attributes
from workflows.closed_won import ClosedWonToSubscription
from workflows.closed_won_client import decide, resubmit, start_closed_won

HERE = Path(__file__).parent
Handle = WorkflowHandle[ClosedWonToSubscription, ClosedWonState]


async def _wait_for(handle: Handle, status: SagaStatus) -> None:
    while (await handle.query(ClosedWonToSubscription.state)).status is not status:
        await asyncio.sleep(0.05)


async def _approve(client: Client, handle: Handle) -> None:
    await _wait_for(handle, SagaStatus.AWAITING_APPROVAL)
    await decide(client, handle.id, ApprovalDecision(approver="fiona.finance", approved=True, note="recorded"))


async def _fix_and_resubmit(client: Client, handle: Handle, systems: InMemorySystems, opportunity: str) -> None:
    await _wait_for(handle, SagaStatus.NEEDS_ATTENTION)
    deal = systems.crm.deals[opportunity]
    fixed = deal.account.model_copy(
        update={
            "tax_id": "US-12-3456789",
            "billing_contact_name": "Ana",
            "billing_contact_email": "ap@fabrikam.example",
        }
    )
    systems.crm.save_deal(deal.model_copy(update={"account": fixed}))
    await resubmit(client, handle.id, Resubmission(requested_by="olga.ops"))


async def _nothing(client: Client, handle: Handle) -> None:
    return None


async def record() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        search_attributes=list(search_attributes.ALL),
        data_converter=pydantic_data_converter,
    )
    async with env:
        for name, deal, drive, fault in _scenarios():
            systems = InMemorySystems()
            opportunity = f"{deal.opportunity.opportunity_id}-{name}"
            systems.crm.save_deal(
                deal.model_copy(
                    update={"opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity})}
                )
            )
            if fault:
                systems.faults.fail(fault, PermanentAdapterError(System.BILLING, "price archived"))
            queue = f"record-{uuid.uuid4()}"
            async with build_worker(env.client, queue, systems.ports(), load_mapping_rules()):
                started = await start_closed_won(env.client, opportunity, load_saga_policy(), queue)
                if drive is _fix_and_resubmit:
                    await _fix_and_resubmit(env.client, started.handle, systems, opportunity)
                else:
                    await drive(env.client, started.handle)
                with contextlib.suppress(WorkflowFailureError):  # the compensated scenario ends failed
                    await started.handle.result()
                history = await started.handle.fetch_history()
            (HERE / f"closed_won_{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events")


def _scenarios() -> list[tuple[str, CrmDeal, Callable[..., Awaitable[None]], str | None]]:
    return [
        ("standard_deal", reference_deal(), _nothing, None),
        ("approved_deal", non_standard_deal(), _approve, None),
        ("resubmitted_deal", incomplete_deal(), _fix_and_resubmit, None),
        ("compensated_deal", reference_deal(), _nothing, "billing.create_subscription"),
    ]


if __name__ == "__main__":
    asyncio.run(record())
