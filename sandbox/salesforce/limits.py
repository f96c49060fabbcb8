"""The org's daily API request limit: every authenticated REST call counts; past the limit Salesforce answers
403 REQUEST_LIMIT_EXCEEDED. Every REST response carries `Sforce-Limit-Info: api-usage=<used>/<limit>`.

Salesforce's limit is a rolling 24 hours; the emulator counts per UTC day, persisted in the document store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.salesforce.wire import SalesforceApiError
from sandbox.store import DocumentStore

ORG = "org"
USAGE = "api_usage"
REST_PREFIX = "/services/data"
LIMIT_HEADER = "Sforce-Limit-Info"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class ApiUsage:
    def __init__(self, store: DocumentStore, limit: int) -> None:
        self._store = store
        self.limit = limit
        self.used = 0

    async def load(self) -> None:
        usage = await self._store.get(ORG, USAGE)
        self.used = int(usage["used"]) if usage is not None and usage.get("day") == _today() else 0
        if usage is not None and usage.get("limit") is not None:
            self.limit = int(usage["limit"])

    async def count(self) -> None:
        """Count one API request, or refuse it once today's requests have reached the limit."""
        async with self._store.transaction() as tx:
            usage = await tx.get(ORG, USAGE) or {}
            used = int(usage["used"]) if usage.get("day") == _today() else 0
            if used >= self.limit:
                self.used = used
                raise SalesforceApiError(
                    403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
                )
            self.used = used + 1
            await tx.put(ORG, USAGE, {"day": _today(), "used": self.used, "limit": self.limit})

    async def set(self, used: int | None, limit: int | None) -> None:
        async with self._store.transaction() as tx:
            self.used = self.used if used is None else used
            self.limit = self.limit if limit is None else limit
            await tx.put(ORG, USAGE, {"day": _today(), "used": self.used, "limit": self.limit})

    @property
    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"


class LimitInfoMiddleware:
    """Adds `Sforce-Limit-Info` to every REST response (pure ASGI, so streaming and errors pass untouched)."""

    def __init__(self, app: ASGIApp, usage: ApiUsage) -> None:
        self._app = app
        self._usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(REST_PREFIX):
            await self._app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((LIMIT_HEADER.lower().encode(), self._usage.header.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_header)
