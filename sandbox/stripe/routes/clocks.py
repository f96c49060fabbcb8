"""Test clocks (`/v1/test_helpers/test_clocks`) and the event log (`/v1/events`).

Advancing a clock answers at once with `status: advancing`; the emulator then works through every boundary up
to the new time in the background and sets `ready` (firing `test_helpers.test_clock.ready`), so clients poll the
clock as they do with Stripe.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.store import DocumentStore
from sandbox.stripe import cycles, objects
from sandbox.stripe.errors import invalid
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, Arr, Int, Obj, Str, page_schema
from sandbox.stripe.records import Records
from sandbox.stripe.routes.common import open_records, page, read_params, respond

router = APIRouter()
log = logging.getLogger(__name__)

CREATE = Obj({"frozen_time": Int(), "name": Str(300), "expand": EXPAND}, required=("frozen_time",))
ADVANCE = Obj({"frozen_time": Int(), "expand": EXPAND}, required=("frozen_time",))
RETRIEVE = Obj({"expand": EXPAND})
EVENTS = page_schema(type=Str(), types=Arr(Str()), delivery_success=Str())


@router.post("/v1/test_helpers/test_clocks")
async def create_clock(request: Request) -> JSONResponse:
    params = await read_params(request, CREATE)
    async with open_records(request) as records:
        created = await records.now_for(None)
        clock = objects.test_clock(
            new_id("test_helpers.test_clock"), created, params["frozen_time"], params.get("name")
        )
        await records.put(clock)
        await records.emit("test_helpers.test_clock.created", clock, created)
    return respond(clock)


@router.get("/v1/test_helpers/test_clocks")
async def list_clocks(request: Request) -> JSONResponse:
    params = await read_params(request, page_schema())
    async with open_records(request) as records:
        clocks = [c for c in await records.all("test_helpers.test_clock") if not c.get("_deleted")]
    return respond(page(clocks, params, "/v1/test_helpers/test_clocks", objects.public))


@router.get("/v1/test_helpers/test_clocks/{clock_id}")
async def retrieve_clock(request: Request, clock_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        clock = await records.require("test_helpers.test_clock", clock_id)
    return respond(objects.public(clock))


@router.delete("/v1/test_helpers/test_clocks/{clock_id}")
async def delete_clock(request: Request, clock_id: str) -> JSONResponse:
    async with open_records(request) as records:
        clock = await records.require("test_helpers.test_clock", clock_id)
        clock["_deleted"] = True
        await records.put(clock)
    return respond(objects.deleted(clock_id, "test_helpers.test_clock"))


@router.post("/v1/test_helpers/test_clocks/{clock_id}/advance")
async def advance_clock(request: Request, clock_id: str) -> JSONResponse:
    params = await read_params(request, ADVANCE)
    async with open_records(request) as records:
        clock = await records.require("test_helpers.test_clock", clock_id)
        if clock["status"] != "ready":
            raise invalid("The test clock is already advancing. Wait for it to be `ready`.")
        target = params["frozen_time"]
        cycles.check_advance(await cycles.clock_subscriptions(records, clock_id), clock["frozen_time"], target)
        clock["status"] = "advancing"
        clock["status_details"] = {"advancing": {"target_frozen_time": target}}
        await records.put(clock)
        shown = objects.public(clock)
    task = asyncio.create_task(_advance(request.app, clock_id, target))
    request.app.state.background.add(task)
    task.add_done_callback(request.app.state.background.discard)
    return respond(shown)


async def _advance(app: FastAPI, clock_id: str, target: int) -> None:
    store: DocumentStore = app.state.store
    try:
        async with store.transaction() as tx:
            records = Records(
                tx=tx,
                settings=app.state.settings,
                api_version=app.state.settings.api_version,
                wake_webhooks=app.state.dispatcher.wake,
            )
            clock = await records.require("test_helpers.test_clock", clock_id)
            await cycles.advance(records, clock, target)
            clock.update(status="ready", status_details={})
            await records.put(clock)
            await records.emit("test_helpers.test_clock.ready", objects.public(clock), target)
    except Exception:  # the clock must not stay `advancing` for ever
        log.exception("advancing test clock %s failed", clock_id)
        async with store.transaction() as tx:
            failed = await tx.get("test_helpers.test_clock", clock_id)
            if failed is not None:
                failed.update(status="internal_failure", status_details={})
                await tx.put("test_helpers.test_clock", clock_id, failed)


@router.get("/v1/events")
async def list_events(request: Request) -> JSONResponse:
    params = await read_params(request, EVENTS)
    wanted = set(params.get("types") or []) | ({params["type"]} if params.get("type") else set())
    async with open_records(request) as records:
        events = [e for e in await records.all("event") if not wanted or _type_matches(e["type"], wanted)]
    return respond(page(events, params, "/v1/events", objects.public))


def _type_matches(event_type: str, wanted: set[str]) -> bool:
    return any(event_type == w or (w.endswith(".*") and event_type.startswith(w[:-1])) for w in wanted)


@router.get("/v1/events/{event_id}")
async def retrieve_event(request: Request, event_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        event = await records.require("event", event_id)
    return respond(objects.public(event))
