"""NetSuite's account-wide concurrency governance: past N requests in flight, the next one gets a 429."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import ADMIN_PREFIX
from sandbox.netsuite.errors import concurrency_response


class ConcurrencyLimit:
    """Pure ASGI middleware (no buffering): counts requests in flight; admin endpoints are not governed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            # Unverified: whether NetSuite sends Retry-After here; the emulator does not (the adapter falls back).
            await concurrency_response()(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
