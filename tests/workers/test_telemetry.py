"""Tracing and metrics on real servers: a Stripe webhook reaching the receiver, the invoice saga it starts on a real
dev server and the saga's posting to the NetSuite emulator form one trace, tagged with the saga's correlation ID;
the worker's Prometheus endpoint serves the Temporal SDK's metrics and q2c's business metrics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from adapters.http_tracing import CORRELATION_HEADER, TracedTransport, correlated
from adapters.memory.reference_deals import incomplete_deal, non_standard_deal
from adapters.memory.systems import InMemorySystems
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.saga import ApprovalDecision, ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from cli.billing_year import invoices_of
from tests.integration.invoicing_stack import Stack, completed, stack, subscribed
from workers.closed_won_worker import AMENDMENT_WORKFLOWS, INVOICING_WORKFLOWS, WORKFLOWS, build_worker
from workers.dev_server import free_port, temporal_cli_path
from workers.telemetry import SpanExport, load_telemetry_settings, temporal_runtime, worker_interceptors
from workers.temporal_settings import SettingsError, TemporalSettings, connect_temporal
from workflows import search_attributes
from workflows.closed_won import ClosedWonToSubscription
from workflows.closed_won_client import decide, start_closed_won
from workflows.invoice_client import invoice_workflow_id

__all__ = ["stack"]  # the invoicing stack, here on a traced client (see `temporal_server` below)

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the first test of the session to trace installs the provider
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    yield _EXPORTER


@pytest.fixture
async def temporal_server(spans: InMemorySpanExporter) -> AsyncIterator[SimpleNamespace]:
    """The invoicing stack's server, but its client made as every q2c process makes one (with tracing)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        search_attributes=list(search_attributes.ALL),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    address = env.client.service_client.config.target_host
    yield SimpleNamespace(client=await connect_temporal(TemporalSettings(address=address)))
    await env.shutdown()


def trace_of(spans: InMemorySpanExporter, name: str, workflow_id: str) -> list[ReadableSpan]:
    finished = spans.get_finished_spans()
    [start] = [s for s in finished if s.name == name and (s.attributes or {}).get("temporalWorkflowID") == workflow_id]
    assert start.context is not None
    return [s for s in finished if s.context is not None and s.context.trace_id == start.context.trace_id]


async def test_a_webhook_its_saga_and_the_erp_posting_form_one_trace(stack: Stack, spans: InMemorySpanExporter) -> None:
    customer = await subscribed(stack)
    [january] = await invoices_of(stack.stripe, customer)
    workflow_id = invoice_workflow_id(january.id)
    await completed(stack, workflow_id)

    one_trace = trace_of(spans, "StartWorkflow:InvoiceToRevenue", workflow_id)
    names = {s.name for s in one_trace}
    [root] = [s for s in one_trace if s.parent is None]
    assert root.name == "POST /stripe/webhooks"  # the receiver's span of the trigger
    assert {"RunWorkflow:InvoiceToRevenue", "RunActivity:post_document_to_erp"} <= names
    netsuite_port = int(stack.sandbox.urls["netsuite"].rsplit(":", 1)[1])
    erp_calls = [
        s
        for s in one_trace
        if (s.attributes or {}).get("server.port") == netsuite_port
        and "/record/v1/invoice" in str((s.attributes or {}).get("url.full"))
    ]
    assert erp_calls, "the NetSuite posting is not in the webhook's trace"
    assert {(s.attributes or {}).get("q2c.correlation_id") for s in erp_calls} == {workflow_id}
    [posting] = [s for s in one_trace if s.name == "RunActivity:post_document_to_erp"]
    assert (posting.attributes or {}).get("q2c.correlation_id") == workflow_id


async def test_vendor_requests_carry_the_correlation_id_and_the_trace_context(spans: InMemorySpanExporter) -> None:
    seen: list[httpx.Request] = []

    async def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=TracedTransport(httpx.MockTransport(vendor))) as http:
        with correlated("invoice-to-revenue/in_123"):
            await http.post("https://erp.example/record/v1/invoice?secret=1")
        await http.get("https://erp.example/ping")

    assert seen[0].headers[CORRELATION_HEADER] == "invoice-to-revenue/in_123"
    assert seen[0].headers["traceparent"].startswith("00-")
    assert CORRELATION_HEADER not in seen[1].headers  # no saga, no correlation ID
    [span] = [
        s
        for s in spans.get_finished_spans()
        if (s.attributes or {}).get("url.full") == "https://erp.example/record/v1/invoice"
    ]
    assert (span.attributes or {})["q2c.correlation_id"] == "invoice-to-revenue/in_123"


@pytest.fixture
async def metered_client(temporal_env: WorkflowEnvironment) -> AsyncIterator[tuple[Client, str]]:
    address = f"127.0.0.1:{free_port()}"
    settings = TemporalSettings(address=temporal_env.client.service_client.config.target_host)
    yield await connect_temporal(settings, runtime=temporal_runtime(address)), address


async def test_the_metrics_endpoint_serves_sdk_and_business_metrics(
    metered_client: tuple[Client, str],
    systems: InMemorySystems,
    mapping_rules: MappingRules,
    fast_policy: SagaPolicy,
) -> None:
    client, address = metered_client
    task_queue = f"metrics-{uuid.uuid4()}"
    approved, parked = seeded(systems, non_standard_deal()), seeded(systems, incomplete_deal())
    async with build_worker(client, task_queue, systems.ports(), mapping_rules):
        handle = (await start_closed_won(client, approved, fast_policy, task_queue)).handle
        parked_handle = (await start_closed_won(client, parked, fast_policy, task_queue)).handle
        await reaches(handle, SagaStatus.AWAITING_APPROVAL)
        await decide(client, handle.id, ApprovalDecision(approver="fiona.finance", approved=True))
        assert (await handle.result()).status is SagaStatus.COMPLETED
        await reaches(parked_handle, SagaStatus.NEEDS_ATTENTION)
        await parked_handle.terminate("test done")
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://{address}/metrics")).text

    assert "temporal_workflow_completed" in text  # the SDK's own
    for status in ("running", "awaiting_approval", "completed", "needs_attention"):
        assert _sample(text, "q2c_saga_status_changes", f'status="{status}"') >= 1
    assert _sample(text, "q2c_saga_exceptions", 'category="') >= 1
    assert _sample(text, "q2c_approval_latency_count", 'decision="decide"') == 1


def seeded(systems: InMemorySystems, deal: CrmDeal) -> str:
    """Save `deal` under an opportunity ID of its own (the session's server is shared); that ID."""
    opportunity = f"{deal.opportunity.opportunity_id}-{uuid.uuid4().hex[:8]}"
    update = {"opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity})}
    systems.crm.save_deal(deal.model_copy(update=update))
    return opportunity


async def reaches(handle: WorkflowHandle[ClosedWonToSubscription, ClosedWonState], status: SagaStatus) -> None:
    for _ in range(200):
        if (await handle.query(ClosedWonToSubscription.state)).status is status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} never reached {status}")


def _sample(text: str, metric: str, label: str) -> float:
    """The sum of a metric's samples that carry `label`."""
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(metric + "{") and label in line and 'workflow_type="ClosedWonToSubscription"' in line
    ]
    assert values, f"no {metric} sample with {label}:\n{text}"
    return sum(values)


def test_telemetry_settings_are_checked_and_named() -> None:
    assert load_telemetry_settings({}).exporter is SpanExport.NONE
    assert load_telemetry_settings({}, default_exporter=SpanExport.CONSOLE).exporter is SpanExport.CONSOLE
    settings = load_telemetry_settings({"Q2C_OTEL_EXPORTER": "OTLP", "Q2C_METRICS_ADDRESS": "0.0.0.0:9464"})
    assert (settings.exporter, settings.metrics_address) == (SpanExport.OTLP, "0.0.0.0:9464")
    with pytest.raises(SettingsError, match="Q2C_OTEL_EXPORTER must be one of none, console, otlp"):
        load_telemetry_settings({"Q2C_OTEL_EXPORTER": "jaeger"})
    with pytest.raises(SettingsError, match="Q2C_METRICS_ADDRESS must be host:port"):
        load_telemetry_settings({"Q2C_METRICS_ADDRESS": "9464"})


HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_the_committed_histories_replay_with_the_telemetry_interceptors(path: Path) -> None:
    """The interceptors run inside every workflow: they must not change what the workflows command."""
    replayer = Replayer(
        workflows=[*WORKFLOWS, *INVOICING_WORKFLOWS, *AMENDMENT_WORKFLOWS],
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor(), *worker_interceptors()],
    )

    result = await replayer.replay_workflow(
        WorkflowHistory.from_json(path.stem, path.read_text()), raise_on_replay_failure=False
    )

    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
