"""What people and triggers do to closed-won sagas: start, find, approve or reject, resubmit.

One place for these, so the CLI, the demo and (later) the trigger receiver and finance console behave alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from canonical.saga import (
    ApprovalDecision,
    ClosedWonInput,
    ClosedWonState,
    RecordedDecision,
    Resubmission,
    SagaStatus,
    SagaType,
)
from canonical.saga_policy import SagaPolicy
from workflows import search_attributes as sa
from workflows.closed_won import ClosedWonToSubscription, workflow_id_for

_WAITING = ", ".join(f"'{s.value}'" for s in SagaStatus if s.waits_for_people)
_AWAITING_DECISION = f"'{SagaStatus.AWAITING_APPROVAL.value}', '{SagaStatus.ESCALATED.value}'"


class SagaActionRefused(Exception):
    """The saga refused the request (its validator said why); nothing changed."""


@dataclass(frozen=True)
class StartedSaga:
    handle: WorkflowHandle[ClosedWonToSubscription, ClosedWonState]
    started: bool  # False: a saga for this opportunity already exists, and nothing new was started


@dataclass(frozen=True)
class SagaSummary:
    workflow_id: str
    run_id: str | None
    execution_status: str
    saga_status: str
    step: str
    opportunity_id: str
    exception_category: str | None
    started_at: datetime | None


async def start_closed_won(client: Client, opportunity_id: str, policy: SagaPolicy, task_queue: str) -> StartedSaga:
    """Start the saga for an opportunity, or return the one that exists: a repeated trigger starts nothing."""
    workflow_id = workflow_id_for(opportunity_id)
    try:
        handle = await client.start_workflow(
            ClosedWonToSubscription.run,
            ClosedWonInput(opportunity_id=opportunity_id, policy=policy),
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=sa.set_at_start(SagaType.CLOSED_WON.value, sa.OPPORTUNITY_ID, opportunity_id),
            static_summary=f"Closed-won → subscription for opportunity {opportunity_id}",
        )
    except WorkflowAlreadyStartedError:
        return StartedSaga(client.get_workflow_handle_for(ClosedWonToSubscription.run, workflow_id), started=False)
    return StartedSaga(handle, started=True)


def closed_won_handle(client: Client, workflow_id: str) -> WorkflowHandle[ClosedWonToSubscription, ClosedWonState]:
    """Accept either the workflow ID (`closed-won/006…`) or the bare opportunity ID."""
    if not workflow_id.startswith("closed-won/"):
        workflow_id = workflow_id_for(workflow_id)
    return client.get_workflow_handle_for(ClosedWonToSubscription.run, workflow_id)


async def saga_state(client: Client, workflow_id: str) -> ClosedWonState:
    return await closed_won_handle(client, workflow_id).query(ClosedWonToSubscription.state)


async def decide(client: Client, workflow_id: str, decision: ApprovalDecision) -> RecordedDecision:
    handle = closed_won_handle(client, workflow_id)
    async with refusals_explained(handle):
        return await handle.execute_update(ClosedWonToSubscription.decide, decision)
    raise AssertionError("unreachable")  # for mypy: the context manager only re-raises


async def resubmit(client: Client, workflow_id: str, request: Resubmission) -> str:
    handle = closed_won_handle(client, workflow_id)
    async with refusals_explained(handle):
        return await handle.execute_update(ClosedWonToSubscription.resubmit, request)
    raise AssertionError("unreachable")


@asynccontextmanager
async def refusals_explained(handle: WorkflowHandle[Any, Any]) -> AsyncIterator[None]:
    """Turn the ways an Update can be turned down into one SagaActionRefused with a plain reason.

    Temporal answers NOT_FOUND both for a saga that never existed (re-raised as is) and for one that has
    ended (refused, saying so).
    """
    try:
        yield
    except WorkflowUpdateFailedError as error:
        raise SagaActionRefused(_refusal_reason(error)) from error
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            description = await handle.describe()
        except RPCError:
            raise error from None
        status = (description.status or WorkflowExecutionStatus.RUNNING).name.lower()
        raise SagaActionRefused(f"saga {handle.id} has already ended ({status}); it takes no more requests") from error


async def list_sagas(
    client: Client, *, waiting_only: bool = False, awaiting_decision: bool = False
) -> list[SagaSummary]:
    """Sagas newest first; `waiting_only` keeps the running ones parked on people (the "stuck" ones)."""
    query = f"{sa.SAGA_TYPE.name} = '{SagaType.CLOSED_WON.value}'"
    if waiting_only or awaiting_decision:
        statuses = _AWAITING_DECISION if awaiting_decision else _WAITING
        query += f" AND ExecutionStatus = 'Running' AND {sa.SAGA_STATUS.name} IN ({statuses})"
    return [_summary(execution) async for execution in client.list_workflows(query)]


def _summary(execution: WorkflowExecution) -> SagaSummary:
    attrs = execution.typed_search_attributes
    status = execution.status or WorkflowExecutionStatus.RUNNING
    return SagaSummary(
        workflow_id=execution.id,
        run_id=execution.run_id,
        execution_status=status.name.lower(),
        saga_status=attrs.get(sa.SAGA_STATUS) or "",
        step=attrs.get(sa.SAGA_STEP) or "",
        opportunity_id=attrs.get(sa.OPPORTUNITY_ID) or "",
        exception_category=attrs.get(sa.EXCEPTION_CATEGORY),
        started_at=execution.start_time,
    )


def _refusal_reason(error: WorkflowUpdateFailedError) -> str:
    cause: BaseException | None = error.cause
    while isinstance(cause, FailureError) and cause.cause is not None:
        cause = cause.cause  # the validator's message is on the innermost failure
    return cause.message if isinstance(cause, FailureError) else str(cause or error)
