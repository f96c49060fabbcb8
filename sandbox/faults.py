"""Seeded fault injection for every emulator: the failures real vendors produce, at a stated rate.

Rules come from config or from the admin endpoint (`GET/PUT /_sandbox/faults`). The same seed gives the same
faults for the same sequence of requests, so a failing fault test can be re-run exactly.

Kinds:
- `error`: the vendor's own 5xx error body (the emulator supplies the shape);
- `rate_limit`: the vendor's 429 (or equivalent) with `Retry-After`;
- `slow`: the response is delayed by `delay_seconds` (past the client's timeout);
- `drop`: the connection is cut after the response started, so the client sees a broken response;
- `duplicate_webhook` / `reorder_webhooks`: applied by emulators that deliver events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

FaultKind = Literal["error", "rate_limit", "slow", "drop", "duplicate_webhook", "reorder_webhooks"]
ADMIN_PREFIX = "/_sandbox"


class FaultRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    rate: float = Field(ge=0, le=1, description="Probability per matching request (or delivery)")
    method: str = "*"
    path: str = Field(".*", description="Regular expression matched against the request path")
    status: int = 503
    retry_after_seconds: int = 1
    delay_seconds: float = 10.0


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)


class FaultInjector:
    """Decides, request by request, whether a fault applies; counts what it injected."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)
        self.injected: dict[str, int] = {}

    def pick(self, method: str, path: str, kinds: tuple[FaultKind, ...]) -> FaultRule | None:
        for rule in self.config.rules:
            if rule.kind not in kinds or (rule.method != "*" and rule.method.upper() != method.upper()):
                continue
            if re.fullmatch(rule.path, path) and self._random.random() < rule.rate:
                self.injected[rule.kind] = self.injected.get(rule.kind, 0) + 1
                return rule
        return None

    def should(self, kind: FaultKind, path: str = "") -> bool:
        return self.pick("*", path, (kind,)) is not None


ErrorResponder = Callable[[FaultRule], Response]


class FaultMiddleware(BaseHTTPMiddleware):
    """Applies request faults before the emulator sees the request; admin endpoints are never faulted."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, error_response: ErrorResponder) -> None:
        super().__init__(app)
        self._injector = injector
        self._error_response = error_response

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith(ADMIN_PREFIX):
            return await call_next(request)
        rule = self._injector.pick(request.method, path, ("error", "rate_limit", "slow", "drop"))
        if rule is None:
            return await call_next(request)
        if rule.kind == "slow":
            # The vendor has the whole request and is slow to answer. Read the body first: a client that gives up
            # meanwhile disconnects, and a body read after that is empty (an empty POST /v1/customers would create
            # an empty customer under the request's idempotency key, which no real vendor does).
            await request.body()
            await asyncio.sleep(rule.delay_seconds)
            return await call_next(request)
        if rule.kind == "drop":
            return _DroppedResponse()
        return self._error_response(rule)


DROP_MESSAGE = "sandbox fault: connection dropped"


def _not_an_injected_drop(record: logging.LogRecord) -> bool:
    """uvicorn logs every exception an app raises with its traceback; a drop we injected is not news, nor is a
    client that gave up on a request a `slow` fault delayed (it disconnects before its body is read)."""
    error = record.exc_info[1] if record.exc_info else None
    injected_drop = isinstance(error, ConnectionAbortedError) and str(error) == DROP_MESSAGE
    return not (injected_drop or isinstance(error, ClientDisconnect))


class _DroppedResponse(Response):
    """Starts a response, then fails: the server closes the connection and the client sees it cut."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        raise ConnectionAbortedError(DROP_MESSAGE)


def install_faults(app: FastAPI, injector: FaultInjector, error_response: ErrorResponder) -> None:
    """Add the middleware and the admin endpoints that read and replace the fault rules."""
    app.add_middleware(FaultMiddleware, injector=injector, error_response=error_response)
    server_log = logging.getLogger("uvicorn.error")  # a filter survives uvicorn's own logging configuration
    if _not_an_injected_drop not in server_log.filters:
        server_log.addFilter(_not_an_injected_drop)
    router = APIRouter(prefix=ADMIN_PREFIX)

    @router.get("/faults")
    async def read_faults() -> dict[str, object]:
        return {"config": injector.config.model_dump(), "injected": injector.injected}

    @router.put("/faults")
    async def replace_faults(config: FaultConfig) -> dict[str, object]:
        injector.configure(config)
        return {"config": injector.config.model_dump(), "injected": injector.injected}

    app.include_router(router)
