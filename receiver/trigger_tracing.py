"""A server span for every request the receiver gets: the root of the trace that follows a trigger into its saga.

The saga's start (the Temporal client's tracing interceptor), its workflow, activities and vendor calls all become
children of this span. A sender that itself traces (W3C `traceparent`) gets the receiver's span under its own.
Plain ASGI middleware, not `BaseHTTPMiddleware`, so request bodies stream through untouched.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_tracer = trace.get_tracer(__name__)


class TriggerSpans:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        method, path = scope["method"], scope["path"]
        attributes = {"http.request.method": method, "url.path": path}
        with _tracer.start_as_current_span(
            f"{method} {path}", context=propagate.extract(headers), kind=SpanKind.SERVER, attributes=attributes
        ) as span:

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
                await send(message)

            await self._app(scope, receive, send_with_status)
