"""Saga starts from processes that do not trace (the `q2c` CLI) still give each saga one trace.

Temporal's tracing interceptor links a workflow's spans through the trace context its start carries. A process
without a tracer provider starts workflows with no trace context, and a worker then opens a new trace for every
activity. This client interceptor, placed before the tracing one, gives such a start a fresh trace context of its
own (a random, sampled trace and parent ID that no span is exported for), so the worker's workflow, activity and
vendor-call spans all land in one trace. A process that does trace, or a start inside a span, is left alone.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from temporalio.client import Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle

_ids = RandomIdGenerator()


class TraceRootForStarts(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _StartsWithTraceContext(next)


class _StartsWithTraceContext(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if (
            isinstance(trace.get_tracer_provider(), TracerProvider)
            or trace.get_current_span().get_span_context().is_valid
        ):
            return await super().start_workflow(input)
        root = SpanContext(
            trace_id=_ids.generate_trace_id(),
            span_id=_ids.generate_span_id(),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        token = context.attach(trace.set_span_in_context(NonRecordingSpan(root)))
        try:
            return await super().start_workflow(input)
        finally:
            context.detach(token)
