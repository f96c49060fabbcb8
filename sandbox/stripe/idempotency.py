"""Idempotent requests as Stripe keeps them: the first result of a POST with an `Idempotency-Key` is stored
(status and body, 500s included) and replayed for the same key for at least 24 hours.

- The same key on another endpoint, or with other parameters: 400 `idempotency_error`, nothing stored.
- The same key while the first request still runs: 409, nothing stored (stripe-python retries a 409).
- A request refused by parameter validation (`StripeError.validation`): nothing stored, so the client may fix
  the parameters and retry with the same key.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.store import DocumentStore
from sandbox.stripe.errors import error_body

COLLECTION = "idempotency_key"
MAX_KEY_LENGTH = 255


class IdempotencyLayer:
    def __init__(self, store: DocumentStore, ttl_seconds: int) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._running: set[str] = set()

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        body = await _read_body(receive)
        if len(key) > MAX_KEY_LENGTH:
            await _error(400, "invalid_request_error", f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters")(
                scope, receive, send
            )
            return
        endpoint = f"{scope['method']} {scope['path']}"
        params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params += sorted(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        stored = await self._store.get(COLLECTION, key)
        if stored is not None and stored["created"] + self._ttl > time.time():
            await self._replay(stored, key, endpoint, [list(p) for p in params])(scope, receive, send)
            return
        if key in self._running:
            await _error(
                409,
                "invalid_request_error",
                "There is currently another in-progress request using this Idempotent Key (that probably means "
                f"you submitted twice, and the other request is still going through): {key}. Please try again later.",
                code="idempotency_key_in_use",
                headers={"Stripe-Should-Retry": "true"},
            )(scope, receive, send)
            return
        self._running.add(key)
        try:
            status, headers, content = await _run(app, scope, body)
            state: dict[str, Any] = scope.get("state", {})
            if not state.get("validation_failed") and status not in (409, 429):
                async with self._store.transaction() as tx:
                    await tx.put(
                        COLLECTION,
                        key,
                        {
                            "key": key,
                            "endpoint": endpoint,
                            "params": [list(p) for p in params],
                            "status": status,
                            "body": content.decode("utf-8", "replace"),
                            "request_id": state.get("request_id"),
                            "created": time.time(),
                        },
                    )
        finally:
            self._running.discard(key)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _replay(self, stored: dict[str, Any], key: str, endpoint: str, params: list[list[str]]) -> Response:
        if stored["endpoint"] != endpoint:
            return _error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{stored['endpoint']}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        if stored["params"] != params:
            return _error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        headers = {"Idempotent-Replayed": "true", "Idempotency-Key": key}
        if stored.get("request_id"):
            headers["Original-Request"] = stored["request_id"]
        return Response(stored["body"], status_code=stored["status"], headers=headers, media_type="application/json")


def _error(
    status: int, type_: str, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(type_, message, code), status_code=status, headers=headers)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _run(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the request with `body`, buffering the response so it is stored before the client sees it."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    start: Message = {}
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return int(start["status"]), list(start.get("headers", [])), b"".join(chunks)
