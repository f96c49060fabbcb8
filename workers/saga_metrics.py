"""Business metrics of every saga, recorded by a workflow interceptor from the search attributes sagas keep current.

Every saga already publishes its status and exception category as search attributes (`workflows.search_attributes`),
so the interceptor watches those instead of each workflow counting for itself:

- `q2c_saga_status_changes{workflow_type, status}` — sagas entering each status (`running` counts starts);
- `q2c_saga_exceptions{workflow_type, category}` — sagas meeting an exception of each category;
- `q2c_approval_latency{workflow_type, decision}` — from the saga asking for a decision (status
  `awaiting_approval`) to the decision Update (`decide`, `decide_period`) completing.

Deterministic by construction: the watcher reads only the workflow's own info and clock, issues no commands, and
records through `workflow.metric_meter()`, which records nothing while a history is being replayed. The metrics
reach Prometheus with the Temporal SDK's own (see `workers.telemetry.temporal_runtime`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import MetricCounter, MetricHistogramTimedelta
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from workflows import search_attributes as sa

STATUS_CHANGES = "q2c_saga_status_changes"
EXCEPTIONS = "q2c_saga_exceptions"
APPROVAL_LATENCY = "q2c_approval_latency"
DECISION_UPDATES = frozenset({"decide", "decide_period"})
AWAITING_DECISION = frozenset({"awaiting_approval", "escalated"})
# Approvals take minutes to days, not the milliseconds Temporal's default buckets are made for.
APPROVAL_LATENCY_BUCKETS_MS = (60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000, 259_200_000, 604_800_000)


class SagaMetricsInterceptor(Interceptor):
    """Worker interceptor adding the business metrics above to every workflow the worker runs."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _SagaMetricsInbound


class _SagaWatch:
    """Notices each change of the saga's status and exception category, at the workflow time it happens."""

    def __init__(self) -> None:
        meter = workflow.metric_meter()
        self._status_changes: MetricCounter = meter.create_counter(
            STATUS_CHANGES, "Sagas entering each status (Q2cSagaStatus)"
        )
        self._exceptions: MetricCounter = meter.create_counter(
            EXCEPTIONS, "Sagas meeting an exception, by category (Q2cExceptionCategory)"
        )
        self._approval_latency: MetricHistogramTimedelta = meter.create_histogram_timedelta(
            APPROVAL_LATENCY, "From a saga asking for a decision to the decision", "ms"
        )
        self._status: str | None = None
        self._category: str | None = None
        self.approval_requested_at: datetime | None = None

    async def watch(self) -> None:
        while True:
            self.notice()
            await workflow.wait_condition(self._changed)

    def decided(self, update: str) -> None:
        if self.approval_requested_at is not None:
            latency = workflow.now() - self.approval_requested_at
            self._approval_latency.record(latency, {"decision": update})
            self.approval_requested_at = None

    def _current(self) -> tuple[str | None, str | None]:
        attributes = workflow.info().typed_search_attributes
        if attributes.get(sa.SAGA_TYPE) is None:  # not a saga (the contract sequencer)
            return None, None
        return attributes.get(sa.SAGA_STATUS), attributes.get(sa.EXCEPTION_CATEGORY)

    def _changed(self) -> bool:
        return self._current() != (self._status, self._category)

    def notice(self) -> None:
        status, category = self._current()
        if status is not None and status != self._status:
            self._status_changes.add(1, {"status": status})
            if status in AWAITING_DECISION and self.approval_requested_at is None:
                self.approval_requested_at = workflow.now()
        if category and category != self._category:
            self._exceptions.add(1, {"category": category})
        self._status, self._category = status, category


class _SagaMetricsInbound(WorkflowInboundInterceptor):
    _watch: _SagaWatch | None = None

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self._watch = _SagaWatch()
        watching = asyncio.create_task(self._watch.watch())
        try:
            result = await super().execute_workflow(input)
        except (Exception, asyncio.CancelledError):
            self._finish(watching)
            raise
        self._finish(watching)
        return result

    def _finish(self, watching: asyncio.Task[None]) -> None:
        # The watcher's condition is not evaluated once the run has returned: notice the final status here.
        # Cancelling is a local operation (no command), so replay-safe.
        assert self._watch is not None
        self._watch.notice()
        watching.cancel()

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        result = await super().handle_update_handler(input)
        if input.update in DECISION_UPDATES and self._watch is not None:
            self._watch.decided(input.update)
        return result
