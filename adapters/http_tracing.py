"""Every vendor HTTP call in one trace with the saga that made it, and tagged with the saga's correlation ID.

The adapters build their httpx clients here (`vendor_http_client`, `traced_stripe_http_client`), so each
request goes through `TracedTransport`: one client span per call, the W3C `traceparent` of that span, and the
`X-Q2C-Correlation-Id` header carrying the saga's workflow ID, so a vendor's support team (or its logs) can find
the saga behind any request. The correlation ID comes from a context variable that the worker's activity
interceptor sets (`workers.telemetry`); the adapters never import Temporal.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import httpx
import stripe
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from adapters.request_pacing import PacedTransport, RequestPacer

CORRELATION_HEADER = "X-Q2C-Correlation-Id"
CORRELATION_ATTRIBUTE = "q2c.correlation_id"

correlation_id: ContextVar[str | None] = ContextVar("q2c_correlation_id", default=None)
_tracer = trace.get_tracer(__name__)


@contextlib.contextmanager
def correlated(correlation: str) -> Iterator[None]:
    """Calls made inside carry `correlation` (the saga's workflow ID) to the vendor."""
    token = correlation_id.set(correlation)
    try:
        yield
    finally:
        correlation_id.reset(token)


class TracedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: a client span per request, with trace context and correlation ID in its headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        correlation = correlation_id.get()
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "url.full": str(request.url.copy_with(query=None)),  # queries may hold record data: leave them out
            "server.address": request.url.host,
        }
        if request.url.port is not None:
            attributes["server.port"] = request.url.port
        if correlation:
            attributes[CORRELATION_ATTRIBUTE] = correlation
        with _tracer.start_as_current_span(f"{request.method}", kind=SpanKind.CLIENT, attributes=attributes) as span:
            propagate.inject(request.headers)
            if correlation:
                request.headers[CORRELATION_HEADER] = correlation
            response = await self._inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def vendor_http_client(
    timeout: float, pacer: RequestPacer | None = None, **transport_options: Any
) -> httpx.AsyncClient:
    """An httpx client whose every request is traced and correlated (see the module docstring), and paced to the
    vendor's rate limit when a `pacer` is given (`adapters.request_pacing`)."""
    transport: httpx.AsyncBaseTransport = TracedTransport(httpx.AsyncHTTPTransport(**transport_options))
    if pacer is not None:
        transport = PacedTransport(transport, pacer)  # outside the trace: a span times the request, not the wait
    return httpx.AsyncClient(timeout=timeout, transport=transport)


def traced_stripe_http_client(timeout: float, pacer: RequestPacer | None = None) -> stripe.HTTPXClient:
    """stripe-python's httpx client, its requests going through `TracedTransport` like the other adapters'.

    stripe builds its httpx client itself with no hook for a transport, so we replace it with an equivalent one
    (same CA bundle as stripe's own) right after construction.
    """
    http = stripe.HTTPXClient(timeout=timeout)
    verify = ssl.create_default_context(cafile=stripe.ca_bundle_path)
    http._client_async = vendor_http_client(timeout, pacer, verify=verify)
    return http
