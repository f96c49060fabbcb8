"""How each saga ended, read from Temporal: its execution status and its `Q2cSagaStatus` search attribute.

Settled means nothing more will happen without people: completed, compensated (or rejected, expired), or parked
in needs attention with an exception category. Anything else by the deadline is stuck; a saga that never started,
failed or was terminated is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from canonical.saga import SagaStatus
from workflows import search_attributes

POLL_SECONDS = 1.0
SETTLED = {SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.REJECTED, SagaStatus.EXPIRED}
PARKED = {SagaStatus.NEEDS_ATTENTION}
DESCRIBE_CONCURRENCY = 16


@dataclass(frozen=True)
class SagaOutcome:
    workflow_id: str
    outcome: str  # a SagaStatus value, or "missing", "failed", "stuck"
    category: str | None = None

    @property
    def settled(self) -> bool:
        return self.outcome in {status.value for status in SETTLED | PARKED}


@dataclass
class Outcomes:
    sagas: list[SagaOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for saga in self.sagas if saga.outcome == outcome)

    @property
    def unsettled(self) -> list[SagaOutcome]:
        return [saga for saga in self.sagas if not saga.settled]

    @property
    def parked_without_category(self) -> list[SagaOutcome]:
        return [saga for saga in self.sagas if saga.outcome == SagaStatus.NEEDS_ATTENTION and not saga.category]

    def summary(self) -> dict[str, int]:
        return dict(Counter(saga.outcome for saga in self.sagas))


async def outcome_of(client: Client, workflow_id: str) -> SagaOutcome:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if "not found" in str(error).lower():
            return SagaOutcome(workflow_id, "missing")
        raise
    attributes = description.typed_search_attributes
    status = attributes.get(search_attributes.SAGA_STATUS) or SagaStatus.RUNNING.value
    category = attributes.get(search_attributes.EXCEPTION_CATEGORY) or None
    if description.status in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.RUNNING):
        return SagaOutcome(workflow_id, status, category)
    # A saga that compensated ends its execution failed, on purpose, with its status saying so.
    if description.status is WorkflowExecutionStatus.FAILED and status in {s.value for s in SETTLED}:
        return SagaOutcome(workflow_id, status, category)
    return SagaOutcome(workflow_id, "failed", description.status.name if description.status else None)


async def settle(client: Callable[[], Client], workflow_ids: Sequence[str], deadline_seconds: float) -> Outcomes:
    """Wait until every saga has settled or the deadline passes; what each came to (unsettled ones are stuck).
    `client` gives the current client (the server may have been restarted since the last call)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def one(workflow_id: str) -> SagaOutcome:
        async with gate:
            try:
                return await outcome_of(client(), workflow_id)
            except RPCError:  # the server is coming back: ask again next round
                return SagaOutcome(workflow_id, SagaStatus.RUNNING.value)

    pending = list(workflow_ids)
    found: dict[str, SagaOutcome] = {}
    while True:
        for saga in await asyncio.gather(*(one(workflow_id) for workflow_id in pending)):
            found[saga.workflow_id] = saga
        pending = [workflow_id for workflow_id in pending if not found[workflow_id].settled]
        if not pending or loop.time() > deadline:
            break
        await asyncio.sleep(POLL_SECONDS)
    for workflow_id in pending:
        if found[workflow_id].outcome not in ("missing", "failed"):
            found[workflow_id] = SagaOutcome(workflow_id, "stuck", found[workflow_id].outcome)
    return Outcomes([found[workflow_id] for workflow_id in workflow_ids])
