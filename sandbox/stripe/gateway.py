"""The API's edge, in Stripe's order: request ID, secret-key auth, rate limit, then idempotency.

Auth: `Authorization: Bearer sk_test_...` (or HTTP Basic with the key as user name, as curl examples use).
Rate limit: a token bucket per key (Stripe's test mode allows 25 requests/s); 429 with Stripe's error body.
"""

from __future__ import annotations

import base64
import time

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.faults import ADMIN_PREFIX
from sandbox.store import DocumentStore
from sandbox.stripe.errors import error_body, rate_limited
from sandbox.stripe.idempotency import IdempotencyLayer
from sandbox.stripe.ids import new_id
from sandbox.stripe.settings import StripeEmulatorSettings

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer "
    "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
    "details, or we can help at https://support.stripe.com/."
)


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, stamp = self._tokens.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - stamp) * self._rate)
        allowed = tokens >= 1
        self._tokens[key] = (tokens - 1 if allowed else tokens, now)
        return allowed


def masked(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "*" * len(key)


def api_key_from(headers: Headers) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(credentials).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return None
        return user or None
    return None


class StripeGateway:
    def __init__(self, app: ASGIApp, store: DocumentStore, settings: StripeEmulatorSettings) -> None:
        self._app = app
        self._settings = settings
        self._bucket = TokenBucket(settings.rate_limit_per_second, settings.rate_limit_burst)
        self._idempotency = IdempotencyLayer(store, settings.idempotency_ttl_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = scope.setdefault("state", {})
        request_id = new_id("request")
        state["request_id"] = request_id
        version = headers.get("stripe-version") or self._settings.api_version
        state["api_version"] = version
        send = _adding_headers(send, [(b"request-id", request_id.encode()), (b"stripe-version", version.encode())])
        key = api_key_from(headers)
        if key is None or key not in self._settings.api_keys:
            message = NO_KEY if key is None else f"Invalid API Key provided: {masked(key)}"
            response = JSONResponse(
                error_body("invalid_request_error", message),
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
            )
            await response(scope, receive, send)
            return
        if not self._bucket.allow(key):
            await rate_limited(1)(scope, receive, send)
            return
        idempotency_key = headers.get("idempotency-key")
        state["idempotency_key"] = idempotency_key
        if scope["method"] == "POST" and idempotency_key:
            await self._idempotency.handle(self._app, scope, receive, send, idempotency_key)
            return
        await self._app(scope, receive, send)


def _adding_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped
