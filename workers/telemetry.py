"""Traces and metrics of a q2c process: where spans go, where Prometheus scrapes, and the worker's interceptors.

Tracing: the Temporal client carries `temporalio.contrib.opentelemetry.TracingInterceptor` (added in
`workers.temporal_settings.connect_temporal`), so a trigger's span in the receiver, the saga's start, its workflow
and activity spans and the vendor HTTP calls under them (`adapters.http_tracing`) form one trace. Spans go where
`Q2C_OTEL_EXPORTER` says: `none` (the default), `console` (one line per span; the default of `q2c dev`) or `otlp`
(configured by the standard `OTEL_EXPORTER_OTLP_*` variables, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).

Metrics: with `Q2C_METRICS_ADDRESS` (host:port), the Temporal runtime serves `/metrics` for Prometheus there —
the SDK's own metrics and q2c's business metrics (`workers.saga_metrics`), which workflows record through the
SDK's replay-safe metric meter.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from adapters.http_tracing import CORRELATION_ATTRIBUTE, correlated
from workers.saga_metrics import APPROVAL_LATENCY, APPROVAL_LATENCY_BUCKETS_MS, SagaMetricsInterceptor
from workers.temporal_settings import SettingsError

EXPORTER_ENV = "Q2C_OTEL_EXPORTER"
METRICS_ADDRESS_ENV = "Q2C_METRICS_ADDRESS"
SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"


class SpanExport(StrEnum):
    NONE = "none"
    CONSOLE = "console"
    OTLP = "otlp"


class TelemetrySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exporter: SpanExport = SpanExport.NONE
    metrics_address: str | None = None
    service_name: str = "q2c"


def load_telemetry_settings(
    environ: Mapping[str, str] = os.environ, default_exporter: SpanExport = SpanExport.NONE
) -> TelemetrySettings:
    """Settings from `Q2C_OTEL_EXPORTER`, `Q2C_METRICS_ADDRESS` and `OTEL_SERVICE_NAME` (empty counts as unset)."""
    raw = environ.get(EXPORTER_ENV) or default_exporter.value
    try:
        exporter = SpanExport(raw.strip().lower())
    except ValueError:
        choices = ", ".join(e.value for e in SpanExport)
        raise SettingsError(f"{EXPORTER_ENV} must be one of {choices}, not {raw!r}") from None
    address = environ.get(METRICS_ADDRESS_ENV) or None
    if address is not None and ":" not in address:
        raise SettingsError(f"{METRICS_ADDRESS_ENV} must be host:port (e.g. 0.0.0.0:9464), not {address!r}")
    try:
        return TelemetrySettings(
            exporter=exporter, metrics_address=address, service_name=environ.get(SERVICE_NAME_ENV) or "q2c"
        )
    except ValidationError as error:  # pragma: no cover - every field is checked above
        raise SettingsError(f"telemetry settings: {error}") from None


@contextlib.contextmanager
def telemetry(settings: TelemetrySettings) -> Iterator[None]:
    """Install this process's tracing and metrics (before its first Temporal client); flush spans on the way out.

    The flush matters: `q2c` ends with `os._exit`, which skips the exporters' own exit hooks.
    """
    provider = install_tracing(settings)
    if settings.metrics_address is not None:
        # Clients made from now on use this runtime; nothing before this point has made one.
        Runtime.set_default(temporal_runtime(settings.metrics_address), error_if_already_set=False)
    try:
        yield
    finally:
        if provider is not None:
            provider.shutdown()


def install_tracing(settings: TelemetrySettings) -> TracerProvider | None:
    """The global tracer provider exporting where `settings` says; None (nothing installed) for `none`."""
    exporter = span_exporter(settings.exporter)
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def span_exporter(kind: SpanExport) -> SpanExporter | None:
    if kind is SpanExport.CONSOLE:
        return ConsoleSpanExporter(out=sys.stdout, formatter=one_line)
    if kind is SpanExport.OTLP:
        # Imported here: only processes that export over OTLP pay for protobuf and requests.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout: the standard OTEL_EXPORTER_OTLP_* variables
    return None


def one_line(span: ReadableSpan) -> str:
    """A span as one console line: trace, name, duration, correlation ID — readable next to the dev banner."""
    context = span.context
    trace_id = f"{context.trace_id:032x}" if context is not None else "?"
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    correlation = (span.attributes or {}).get(CORRELATION_ATTRIBUTE)
    suffix = f"  [{correlation}]" if correlation else ""
    return f"span {trace_id}  {span.name}  {duration_ms:.1f} ms{suffix}\n"


def temporal_runtime(metrics_address: str) -> Runtime:
    """A Temporal runtime serving the SDK's and q2c's metrics on `http://<metrics_address>/metrics`."""
    prometheus = PrometheusConfig(
        bind_address=metrics_address,
        histogram_bucket_overrides={APPROVAL_LATENCY: list(APPROVAL_LATENCY_BUCKETS_MS)},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def worker_interceptors() -> Sequence[Interceptor]:
    """What `build_worker` adds to the client's tracing interceptor: correlation IDs and business metrics."""
    return (CorrelationInterceptor(), SagaMetricsInterceptor())


class CorrelationInterceptor(Interceptor):
    """Every activity runs with its saga's workflow ID as correlation ID: on its span, and on its vendor calls."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CorrelatedActivity(next)


class _CorrelatedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        correlation = activity.info().workflow_id
        if not correlation:  # a standalone activity has no saga
            return await super().execute_activity(input)
        # The tracing interceptor sits outside this one, so the current span is the activity's own.
        trace.get_current_span().set_attribute(CORRELATION_ATTRIBUTE, correlation)
        with correlated(correlation):
            return await super().execute_activity(input)
