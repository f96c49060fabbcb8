"""Billing meters and meter events: usage reaches metered prices through events summed per billing period.

Meter events (`POST /v1/billing/meter_events`) need `event_name` (an active meter's), `payload` with the meter's
customer key (default `stripe_customer_id`) and value key (default `value`), a `timestamp` within the past 35
days or at most 5 minutes ahead, and an `identifier` unique for at least 24 hours. Real Stripe processes events
asynchronously and reports an unknown customer later; the emulator checks it at once. For a customer on a test
clock the window is measured from the clock's frozen time (*unverified*). A repeated identifier is refused with
a 400 (*unverified*: the exact error code is not documented).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import objects
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
