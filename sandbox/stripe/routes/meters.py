"""Billing meters and meter events: usage reaches metered prices through events summed per billing period.

Meter events (`POST /v1/billing/meter_events`) need `event_name` (an active meter's), `payload` with the meter's
customer key (default `stripe_customer_id`) and value key (default `value`), a `timestamp` within the past 35
days or at most 5 minutes ahead, and an `identifier` unique for at least 24 hours. Real Stripe processes events
asynchronously and reports an unknown customer later; the emulator checks it at once. For a customer on a test
clock the window is measured from the clock's frozen time (*unverified*). A repeated identifier is refused with
a 400 (*unverified*: the exact error code is not documented).

Event summaries (`GET /v1/billing/meters/{id}/event_summaries`) aggregate a customer's events with the meter's
formula over `[start_time, end_time)`, both aligned to a minute (to an hour or a UTC day with
`value_grouping_window`). Without a window the list holds one summary for the whole range (aggregated value 0
when there were no events: *unverified*); with one, a summary per window that has events, newest first, as in
Stripe's example (*unverified* for windows without events). Stripe aggregates asynchronously (its summaries are
eventually consistent); the emulator's are current at once. Summary IDs are derived from meter, customer and
window, so the same window keeps its ID across requests and works as a paging cursor.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import billing, objects
from sandbox.stripe.errors import StripeError, invalid
from sandbox.stripe.ids import new_id, random_token
from sandbox.stripe.params import EXPAND, Enum, Int, Obj, Str, page_schema
from sandbox.stripe.routes.common import open_records, page, read_params, respond

router = APIRouter()

METER_CREATE = Obj(
    {
        "display_name": Str(250),
        "event_name": Str(100),
        "default_aggregation": Obj({"formula": Enum(("count", "last", "sum"))}, required=("formula",)),
        "customer_mapping": Obj(
            {"event_payload_key": Str(100), "type": Enum(("by_id",))}, required=("event_payload_key", "type")
        ),
        "value_settings": Obj({"event_payload_key": Str(100)}, required=("event_payload_key",)),
        "event_time_window": Enum(("day", "hour")),
        "expand": EXPAND,
    },
    required=("display_name", "event_name", "default_aggregation"),
)
METER_LIST = page_schema(status=Enum(("active", "inactive")))
METER_EVENT = Obj(
    {
        "event_name": Str(100),
        "payload": Obj({}, extra=True),
        "identifier": Str(100),
        "timestamp": Int(),
        "expand": EXPAND,
    },
    required=("event_name", "payload"),
)
RETRIEVE = Obj({"expand": EXPAND})
SUMMARIES = Obj(
    {
        "customer": Str(),
        "start_time": Int(),
        "end_time": Int(),
        "value_grouping_window": Enum(("day", "hour")),
        "limit": Int(minimum=1),
        "starting_after": Str(),
        "ending_before": Str(),
        "expand": EXPAND,
    },
    required=("customer", "start_time", "end_time"),
)
ALIGNMENT = {None: (60, "minute"), "hour": (3600, "hour"), "day": (86400, "day (00:00 UTC)")}
PAST_WINDOW = 35 * 86400
FUTURE_WINDOW = 5 * 60
IDENTIFIER_WINDOW = 24 * 3600


@router.post("/v1/billing/meters")
async def create_meter(request: Request) -> JSONResponse:
    params = await read_params(request, METER_CREATE)
    async with open_records(request) as records:
        for other in await records.all("billing.meter", event_name=params["event_name"]):
            if other["status"] == "active":
                raise StripeError(
                    400,
                    f"An active meter with event_name `{params['event_name']}` already exists.",
                    param="event_name",
                    validation=True,
                )
        created = await records.now_for(None)
        meter = objects.meter(new_id("billing.meter"), created, params)
        await records.put(meter)
        await records.emit("billing.meter.created", meter, created)
    return respond(meter)


@router.get("/v1/billing/meters")
async def list_meters(request: Request) -> JSONResponse:
    params = await read_params(request, METER_LIST)
    async with open_records(request) as records:
        meters = [
            m
            for m in await records.all("billing.meter")
            if params.get("status") is None or m["status"] == params["status"]
        ]
    return respond(page(meters, params, "/v1/billing/meters", objects.public))


@router.get("/v1/billing/meters/{meter_id}")
async def retrieve_meter(request: Request, meter_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        meter = await records.require("billing.meter", meter_id)
    return respond(meter)


@router.post("/v1/billing/meters/{meter_id}/deactivate")
async def deactivate_meter(request: Request, meter_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        meter = await records.require("billing.meter", meter_id)
        now = await records.now_for(None)
        meter.update(status="inactive", updated=now, status_transitions={"deactivated_at": now})
        await records.put(meter)
    return respond(meter)


@router.post("/v1/billing/meter_events")
async def create_meter_event(request: Request) -> JSONResponse:
    params = await read_params(request, METER_EVENT)
    async with open_records(request) as records:
        meters = [
            m for m in await records.all("billing.meter", event_name=params["event_name"]) if m["status"] == "active"
        ]
        if not meters:
            raise invalid(f"No active meter found for event_name `{params['event_name']}`.", "event_name")
        meter = meters[0]
        payload = {k: v for k, v in params["payload"].items()}
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        if not isinstance(payload.get(customer_key), str):
            raise invalid(
                f"Missing required param: payload[{customer_key}].", f"payload[{customer_key}]", "parameter_missing"
            )
        customer = await records.require("customer", payload[customer_key], f"payload[{customer_key}]")
        value = payload.get(value_key)
        if meter["default_aggregation"]["formula"] != "count":
            try:
                if not isinstance(value, str) or not Decimal(value).is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise invalid(f"Invalid payload[{value_key}]: must be a number.", f"payload[{value_key}]") from None
        now = await records.now_for(customer)
        timestamp = params.get("timestamp")
        timestamp = now if timestamp is None else timestamp
        if not now - PAST_WINDOW <= timestamp <= now + FUTURE_WINDOW:
            raise invalid(
                "Timestamp must be within the past 35 calendar days and at most 5 minutes in the future.", "timestamp"
            )
        identifier = params.get("identifier") or random_token(24)
        existing = await records.tx.get("billing.meter_event", f"{params['event_name']}:{identifier}")
        if existing is not None and existing["created"] > now - IDENTIFIER_WINDOW:
            raise invalid(f"An event with identifier `{identifier}` already exists.", "identifier")
        event = objects.meter_event(now, {**params, "payload": payload}, identifier, timestamp)
        await records.tx.put(
            "billing.meter_event",
            f"{params['event_name']}:{identifier}",
            {**event, "_meter": meter["id"], "_customer": customer["id"]},
        )
    return respond(event)


@router.get("/v1/billing/meters/{meter_id}/event_summaries")
async def list_event_summaries(request: Request, meter_id: str) -> JSONResponse:
    params = await read_params(request, SUMMARIES)
    windows = _windows(params["start_time"], params["end_time"], params.get("value_grouping_window"))
    async with open_records(request) as records:
        meter = await records.require("billing.meter", meter_id)
        customer = await records.require("customer", params["customer"], "customer")
        events = await billing.meter_events(records, meter_id, customer["id"], (windows[0][0], windows[-1][1]))
    summaries = []
    for window in windows:
        inside = [e for e in events if window[0] <= e["timestamp"] < window[1]]
        if inside or len(windows) == 1:
            summary_id = _summary_id(meter_id, customer["id"], window)
            summaries.append(
                objects.meter_event_summary(summary_id, meter_id, window, billing.aggregate(meter, inside))
            )
    return respond(page(summaries, params, f"/v1/billing/meters/{meter_id}/event_summaries", lambda s: s))


def _windows(start: int, end: int, grouping: str | None) -> list[tuple[int, int]]:
    step, unit = ALIGNMENT[grouping]
    for name, moment in (("start_time", start), ("end_time", end)):
        if moment % step:
            raise invalid(f"{name} must be aligned with {unit} boundaries.", name)
    if end <= start:
        raise invalid("end_time must be after start_time.", "end_time")
    if grouping is None:
        return [(start, end)]
    return [(moment, moment + step) for moment in range(start, end, step)]


def _summary_id(meter_id: str, customer_id: str, window: tuple[int, int]) -> str:
    digest = hashlib.sha256(f"{meter_id}:{customer_id}:{window[0]}:{window[1]}".encode()).hexdigest()
    return f"mtrusg_test_{digest[:48]}"
