"""What every endpoint does: read form or query parameters, open the records, page lists, answer JSON."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from sandbox.store import DocumentStore
from sandbox.stripe.errors import invalid
from sandbox.stripe.forms import FormError, parse_pairs
from sandbox.stripe.objects import list_object, search_result
from sandbox.stripe.params import Obj as ObjSchema
from sandbox.stripe.records import Records
from sandbox.stripe.search import parse_query
from sandbox.stripe.settings import StripeEmulatorSettings

Obj = dict[str, Any]
MAX_LIMIT = 100


async def read_params(request: Request, schema: ObjSchema) -> Obj:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method not in ("GET", "DELETE"):
        body = (await request.body()).decode("utf-8", "replace")
        content_type = request.headers.get("content-type", "")
        if body and "json" in content_type:
            raise invalid(
                "Invalid request: v1 API requests must be form-encoded "
                "(Content-Type: application/x-www-form-urlencoded)"
            )
        pairs += parse_qsl(body, keep_blank_values=True)
    try:
        raw = parse_pairs(pairs)
    except FormError as error:
        raise invalid(str(error), error.param) from None
    return schema.validate(raw)


def expansions(params: Obj) -> set[str]:
    return set(params.get("expand") or [])


@asynccontextmanager
async def open_records(request: Request) -> AsyncIterator[Records]:
    store: DocumentStore = request.app.state.store
    settings: StripeEmulatorSettings = request.app.state.settings
    state = request.state
    async with store.transaction() as tx:
        yield Records(
            tx=tx,
            settings=settings,
            request_id=getattr(state, "request_id", None),
            idempotency_key=getattr(state, "idempotency_key", None),
            api_version=getattr(state, "api_version", settings.api_version),
            wake_webhooks=request.app.state.dispatcher.wake,
        )


def merged_metadata(current: dict[str, str], update: dict[str, str] | None) -> dict[str, str]:
    """Stripe's metadata update: keys are merged in, a key set to "" is removed, `metadata=""` clears all."""
    if update is None:
        return {}
    return {k: v for k, v in {**current, **update}.items() if v != ""}


def respond(body: Obj, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def in_range(value: int | None, bounds: Obj | None) -> bool:
    """`created[gte]=...&created[lt]=...` filters."""
    limits = {k: v for k, v in (bounds or {}).items() if v is not None}
    if not limits:
        return True
    if value is None:
        return False
    tests = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(tests[name](limit) for name, limit in limits.items())


def page(documents: list[Obj], params: Obj, url: str, render: Callable[[Obj], Obj]) -> Obj:
    """A list page, newest first, with `starting_after` / `ending_before` cursors, as Stripe pages lists."""
    newest_first = [d for d in reversed(documents) if in_range(d.get("created"), params.get("created"))]
    limit = min(params.get("limit") or 10, MAX_LIMIT)
    ids = [d["id"] for d in newest_first]
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise invalid(f"No such object: '{cursor}'", "starting_after", "resource_missing")
        window = newest_first[ids.index(cursor) + 1 :]
        chosen, more = window[:limit], len(window) > limit
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise invalid(f"No such object: '{cursor}'", "ending_before", "resource_missing")
        window = newest_first[: ids.index(cursor)]
        chosen, more = window[-limit:], len(window) > limit
    else:
        chosen, more = newest_first[:limit], len(newest_first) > limit
    return list_object([render(d) for d in chosen], url, more)


def search_page(
    documents: list[Obj], params: Obj, url: str, resource: str, fields: frozenset[str], render: Callable[[Obj], Obj]
) -> Obj:
    matches = parse_query(params["query"], resource, fields)
    now = time.time()  # Stripe Search is eventually consistent: new objects appear after the index lag
    found = [d for d in reversed(documents) if d.get("_searchable_at", 0) <= now and matches(d)]
    limit = min(params.get("limit") or 10, MAX_LIMIT)
    offset = 0
    if params.get("page"):
        try:
            offset = int(base64.urlsafe_b64decode(params["page"].encode()).decode())
        except ValueError:
            raise invalid("Invalid page: not a page token from a previous search", "page") from None
    chosen = found[offset : offset + limit]
    more = len(found) > offset + limit
    next_page = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
    total = len(found) if "total_count" in expansions(params) else None
    return search_result([render(d) for d in chosen], url, more, next_page, total)


def searchable_from(settings: StripeEmulatorSettings) -> float:
    return time.time() + settings.search_lag_seconds
