"""Exception cases of the closed-won saga on a real dev server, with the in-memory systems and a real store: a
parked deal opens a case; resolving it resumes the saga (after the deal is fixed) or compensates it, and the
case's history and the audit trail say who did it and why.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import incomplete_deal
from adapters.memory.systems import InMemorySystems
from adapters.store import CaseClosed, OperationalStore, sqlite_url
from adapters.store.records import AuditEventKind, CaseAction, CaseStatus, ExceptionCase, OwnerRole
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory
from canonical.saga import SagaStatus
from canonical.saga_policy import SagaPolicy
from workers.closed_won_worker import build_worker
from workers.exception_resolution import resolve_exception_case
from workflows.closed_won_client import start_closed_won


@dataclass
class Stack:
    client: Client
    store: OperationalStore
    systems: InMemorySystems
    policy: SagaPolicy
    task_queue: str

    async def parked(self) -> tuple[str, ExceptionCase]:
        """Start the saga of a copy of the incomplete deal; its workflow ID and the case it opens when it parks."""
        deal = incomplete_deal()
        opportunity_id = f"{deal.opportunity.opportunity_id}-{uuid.uuid4().hex[:8]}"
        opportunity = deal.opportunity.model_copy(update={"opportunity_id": opportunity_id})
        self.systems.crm.save_deal(deal.model_copy(update={"opportunity": opportunity}))
        started = await start_closed_won(self.client, opportunity_id, self.policy, self.task_queue)
        for _ in range(200):
            cases = [c for c in await self.store.open_cases() if c.workflow_id == started.handle.id]
            if cases:
                return started.handle.id, cases[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{started.handle.id} opened no case")


@pytest.fixture
async def stack(
    temporal_env: WorkflowEnvironment,
    systems: InMemorySystems,
    mapping_rules: MappingRules,
    fast_policy: SagaPolicy,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    task_queue = f"cases-{uuid.uuid4()}"
    async with (
        await OperationalStore.open(sqlite_url(tmp_path / "q2c.sqlite")) as store,
        build_worker(temporal_env.client, task_queue, systems.ports(store), mapping_rules),
    ):
        yield Stack(temporal_env.client, store, systems, fast_policy, task_queue)


async def test_a_parked_deal_opens_a_case_and_resuming_it_after_the_fix_completes_the_saga(stack: Stack) -> None:
    workflow_id, case = await stack.parked()
    assert (case.category, case.owner, case.amount_at_risk) == (
        ExceptionCategory.TAX_FAILURE,
        OwnerRole.BILLING_OPS,
        None,  # the deal did not map to a contract, so its value is not known yet
    )
    assert "tax_id" in case.description

    opportunity_id = workflow_id.removeprefix("closed-won/")
    deal = await stack.systems.crm.fetch_deal(opportunity_id)
    fixed = deal.account.model_copy(
        update={"tax_id": "US-12-3456789", "billing_contact_name": "Ana", "billing_contact_email": "ap@fab.example"}
    )
    stack.systems.crm.save_deal(deal.model_copy(update={"account": fixed}))
    resolved = await resolve_exception_case(
        stack.client, stack.store, case.id, CaseAction.RESUME, "olga.ops", "added the tax ID and AP contact"
    )
    result = await stack.client.get_workflow_handle(workflow_id).result()

    assert result["status"] == SagaStatus.COMPLETED.value
    assert resolved.status is CaseStatus.RESOLVED and resolved.history[-1].by == "olga.ops"
    records = await stack.store.audit_records(workflow_id=workflow_id)
    opened = [r for r in records if r.kind is AuditEventKind.EXCEPTION_OPENED]
    closed = [r for r in records if r.kind is AuditEventKind.EXCEPTION_RESOLVED]
    assert len(opened) == 1 and len(closed) == 1 and closed[0].actor == "olga.ops"
    assert records[-1].kind is AuditEventKind.WRITE_BACK  # resubmitted, read again, provisioned, CRM told
    assert await stack.store.verify_audit_chain() is None


async def test_compensating_a_case_cancels_its_saga_and_dismissing_touches_only_the_store(stack: Stack) -> None:
    compensated_id, compensated = await stack.parked()
    dismissed_id, dismissed = await stack.parked()

    await resolve_exception_case(
        stack.client, stack.store, compensated.id, CaseAction.COMPENSATE, "sam.sales", "deal lost after all"
    )
    await resolve_exception_case(None, stack.store, dismissed.id, CaseAction.DISMISS, "olga.ops", "known, on hold")

    with pytest.raises(WorkflowFailureError):
        await stack.client.get_workflow_handle(compensated_id).result()
    assert (await stack.store.case(compensated.id)).resolution is CaseAction.COMPENSATE
    assert (await stack.store.case(dismissed.id)).status is CaseStatus.DISMISSED
    assert await stack.store.open_cases() == []
    with pytest.raises(CaseClosed):  # closed is closed: a different resolution would rewrite what happened
        await resolve_exception_case(stack.client, stack.store, compensated.id, CaseAction.RETRY, "olga.ops", "again")
    state = await stack.client.get_workflow_handle(dismissed_id).query("state")
    assert state["status"] == SagaStatus.NEEDS_ATTENTION.value  # dismissing left the saga waiting
    await stack.client.get_workflow_handle(dismissed_id).terminate("test over")
