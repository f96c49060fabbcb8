"""Subscriptions and their items, and subscription schedules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import billing, changes, objects, schedules, subscriptions
from sandbox.stripe.errors import invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, SEARCH, Enum, Obj, Str, page_schema
from sandbox.stripe.records import Records
from sandbox.stripe.routes.common import expansions, open_records, page, read_params, respond, search_page

router = APIRouter()

RETRIEVE = Obj({"expand": EXPAND})
LIST = page_schema(
    customer=Str(),
    price=Str(),
    test_clock=Str(),
    status=Enum(
        (
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        )
    ),
    collection_method=Enum(("charge_automatically", "send_invoice")),
)
ITEM_LIST = page_schema(subscription=Str())
SEARCH_FIELDS = frozenset({"created", "metadata", "status"})


async def _render(records: Records, subscription: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    shown = subscriptions.render(subscription, expand)
    if "latest_invoice" in expand and subscription.get("latest_invoice"):
        shown["latest_invoice"] = billing.render_invoice(
            await records.require("invoice", subscription["latest_invoice"])
        )
    if "customer" in expand:
        shown["customer"] = objects.public(await records.require("customer", subscription["customer"]))
    if "schedule" in expand and subscription.get("schedule"):
        shown["schedule"] = schedules.render(await records.require("subscription_schedule", subscription["schedule"]))
    return shown


@router.post("/v1/subscriptions")
async def create_subscription(request: Request) -> JSONResponse:
    params = await read_params(request, subscriptions.CREATE)
    async with open_records(request) as records:
        subscription = await subscriptions.create(records, params)
        shown = await _render(records, subscription, expansions(params))
    return respond(shown)


@router.get("/v1/subscriptions/search")
async def search_subscriptions(request: Request) -> JSONResponse:
    params = await read_params(request, SEARCH)
    async with open_records(request) as records:
        found = await records.all("subscription")
    return respond(
        search_page(
            found,
            params,
            "/v1/subscriptions/search",
            "subscriptions",
            SEARCH_FIELDS,
            lambda s: subscriptions.render(s, set()),
        )
    )


@router.get("/v1/subscriptions")
async def list_subscriptions(request: Request) -> JSONResponse:
    params = await read_params(request, LIST)
    status = params.get("status")
    async with open_records(request) as records:
        clock_customers = None
        if params.get("customer") is None:
            # Stripe: without `customer`, only subscriptions on the given test clock, or on none when not given.
            clock = params.get("test_clock")
            clock_customers = {c["id"] for c in await records.all("customer") if c.get("test_clock") == clock}
        found = [
            s
            for s in await records.all("subscription")
            if (params.get("customer") is None or s["customer"] == params["customer"])
            and (clock_customers is None or s["customer"] in clock_customers)
            and (params.get("price") is None or any(i["price"]["id"] == params["price"] for i in s["items"]["data"]))
            and (params.get("collection_method") is None or s["collection_method"] == params["collection_method"])
            and _status_matches(s["status"], status)
        ]
    return respond(page(found, params, "/v1/subscriptions", lambda s: subscriptions.render(s, set())))


def _status_matches(actual: str, wanted: str | None) -> bool:
    if wanted is None:
        return actual not in ("canceled", "incomplete_expired")  # Stripe lists only live ones by default
    if wanted == "all":
        return True
    if wanted == "ended":
        return actual in ("canceled", "incomplete_expired")
    return actual == wanted


@router.get("/v1/subscriptions/{subscription_id}")
async def retrieve_subscription(request: Request, subscription_id: str) -> JSONResponse:
    params = await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        subscription = await records.require("subscription", subscription_id)
        shown = await _render(records, subscription, expansions(params))
    return respond(shown)


@router.post("/v1/subscriptions/{subscription_id}")
async def update_subscription(request: Request, subscription_id: str) -> JSONResponse:
    params = await read_params(request, changes.UPDATE)
    async with open_records(request) as records:
        subscription = await records.require("subscription", subscription_id)
        subscription, _ = await changes.update(records, subscription, params)
        shown = await _render(records, subscription, expansions(params))
    return respond(shown)


@router.delete("/v1/subscriptions/{subscription_id}")
async def cancel_subscription(request: Request, subscription_id: str) -> JSONResponse:
    params = await read_params(request, changes.CANCEL)
    async with open_records(request) as records:
        subscription = await records.require("subscription", subscription_id)
        if subscription["status"] in subscriptions.ENDED:
            raise invalid(
                f"A canceled subscription can only update its cancellation_details and metadata. "
                f"({subscription_id} is already canceled.)",
            )
        now = await records.customer_now(subscription["customer"])
        subscription = await changes.cancel_now(
            records,
            subscription,
            now,
            invoice_now=bool(params.get("invoice_now")),
            prorate=bool(params.get("prorate")),
            details=params.get("cancellation_details"),
        )
        shown = await _render(records, subscription, expansions(params))
    return respond(shown)


@router.get("/v1/subscription_items")
async def list_subscription_items(request: Request) -> JSONResponse:
    params = await read_params(request, ITEM_LIST)
    if not params.get("subscription"):
        raise missing_param("subscription")
    async with open_records(request) as records:
        subscription = await records.require("subscription", params["subscription"], "subscription")
    items = list(reversed(subscription["items"]["data"]))
    return respond(page(items, params, f"/v1/subscription_items?subscription={subscription['id']}", objects.public))


@router.get("/v1/subscription_items/{item_id}")
async def retrieve_subscription_item(request: Request, item_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        for subscription in await records.all("subscription"):
            for item in subscription["items"]["data"]:
                if item["id"] == item_id:
                    return respond(objects.public(item))
        await records.require("subscription_item", item_id)
    raise AssertionError("unreachable")


# --- subscription schedules --------------------------------------------------------------------------------


@router.post("/v1/subscription_schedules")
async def create_schedule(request: Request) -> JSONResponse:
    params = await read_params(request, schedules.CREATE)
    async with open_records(request) as records:
        if params.get("from_subscription"):
            if params.get("customer") or params.get("phases") or params.get("start_date"):
                raise invalid(
                    "You cannot set `customer`, `phases` or `start_date` when `from_subscription` is set.",
                    "from_subscription",
                )
            schedule = await _from_subscription(records, params)
        else:
            schedule = await _for_customer(records, params)
        shown = schedules.render(await records.require("subscription_schedule", schedule["id"]))
    return respond(shown)


async def _from_subscription(records: Records, params: dict[str, Any]) -> dict[str, Any]:
    subscription = await records.require("subscription", params["from_subscription"], "from_subscription")
    if subscription.get("schedule"):
        raise invalid(
            f"The subscription `{subscription['id']}` is already attached to a schedule.", "from_subscription"
        )
    if subscription["status"] in subscriptions.ENDED:
        raise invalid("A canceled subscription cannot be managed by a schedule.", "from_subscription")
    customer = await records.require("customer", subscription["customer"])
    now = await records.now_for(customer)
    items = subscription["items"]["data"]
    start = min(i["current_period_start"] for i in items)
    end = min(i["current_period_end"] for i in items)
    phase_params = [
        {
            "items": [{"price": i["price"]["id"], "quantity": i["quantity"], "metadata": i["metadata"]} for i in items],
            "end_date": end,
            "proration_behavior": "create_prorations",
        }
    ]
    schedule = objects.subscription_schedule(
        new_id("subscription_schedule"),
        now,
        customer,
        {
            "end_behavior": "release",
            "metadata": params.get("metadata"),
            "_collection_method": subscription["collection_method"],
            "_days_until_due": subscription["days_until_due"],
        },
    )
    schedule["phases"] = await schedules.build_phases(records, phase_params, start)
    schedule.update(status="active", subscription=subscription["id"], _phase=0)
    schedules.set_current(schedule)
    subscription["schedule"] = schedule["id"]
    await records.put(subscription)
    await records.put(schedule)
    await records.emit("subscription_schedule.created", schedules.render(schedule), now)
    return schedule


async def _for_customer(records: Records, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer"):
        raise missing_param("customer")
    if not params.get("phases"):
        raise missing_param("phases")
    customer = await records.require("customer", params["customer"], "customer")
    now = await records.now_for(customer)
    start = params.get("start_date")
    start = now if start in (None, "now") else int(start)
    settings = params.get("default_settings") or {}
    schedule = objects.subscription_schedule(
        new_id("subscription_schedule"),
        now,
        customer,
        {
            **params,
            "_collection_method": settings.get("collection_method"),
            "_days_until_due": (settings.get("invoice_settings") or {}).get("days_until_due"),
        },
    )
    schedule["phases"] = await schedules.build_phases(records, params["phases"], start)
    await records.put(schedule)
    await records.emit("subscription_schedule.created", schedules.render(schedule), now)
    if start <= now:
        await schedules.start(records, schedule)
    return schedule


@router.get("/v1/subscription_schedules/{schedule_id}")
async def retrieve_schedule(request: Request, schedule_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        schedule = await records.require("subscription_schedule", schedule_id)
    return respond(schedules.render(schedule))


@router.get("/v1/subscription_schedules")
async def list_schedules(request: Request) -> JSONResponse:
    params = await read_params(request, page_schema(customer=Str()))
    async with open_records(request) as records:
        found = [
            s
            for s in await records.all("subscription_schedule")
            if params.get("customer") is None or s["customer"] == params["customer"]
        ]
    return respond(page(found, params, "/v1/subscription_schedules", schedules.render))


@router.post("/v1/subscription_schedules/{schedule_id}")
async def update_schedule(request: Request, schedule_id: str) -> JSONResponse:
    params = await read_params(request, schedules.UPDATE)
    async with open_records(request) as records:
        schedule = await records.require("subscription_schedule", schedule_id)
        if schedule["status"] not in ("active", "not_started"):
            raise invalid(f"You cannot update a schedule that is `{schedule['status']}`.")
        customer = await records.require("customer", schedule["customer"])
        now = await records.now_for(customer)
        if params.get("phases"):
            current = schedule["phases"][schedule.get("_phase", 0)] if schedule["status"] == "active" else None
            first = params["phases"][0]
            start = current["start_date"] if current else schedule["phases"][0]["start_date"]
            if current and first.get("start_date") not in (None, current["start_date"]):
                raise invalid("The current phase's start_date cannot be changed.", "phases[0][start_date]")
            done = schedule["phases"][: schedule.get("_phase", 0)] if current else []
            schedule["phases"] = done + await schedules.build_phases(records, params["phases"], start)
            if current:
                subscription = await records.require("subscription", schedule["subscription"])
                await schedules.apply_phase(records, subscription, schedule["phases"][len(done)], now)
                subscription.pop("_added_at_boundary", None)
                await records.put(subscription)
        for key in ("end_behavior", "metadata"):
            if params.get(key) is not None:
                schedule[key] = params[key]
        schedules.set_current(schedule)
        await records.put(schedule)
        await records.emit("subscription_schedule.updated", schedules.render(schedule), now)
    return respond(schedules.render(schedule))


@router.post("/v1/subscription_schedules/{schedule_id}/cancel")
async def cancel_schedule(request: Request, schedule_id: str) -> JSONResponse:
    params = await read_params(
        request,
        Obj(
            {
                "invoice_now": changes.CANCEL.fields["invoice_now"],
                "prorate": changes.CANCEL.fields["prorate"],
                "expand": EXPAND,
            }
        ),
    )
    async with open_records(request) as records:
        schedule = await records.require("subscription_schedule", schedule_id)
        if schedule["status"] not in ("active", "not_started"):
            raise invalid(f"You cannot cancel a schedule that is `{schedule['status']}`.")
        customer = await records.require("customer", schedule["customer"])
        now = await records.now_for(customer)
        if schedule.get("subscription"):
            subscription = await records.require("subscription", schedule["subscription"])
            await changes.cancel_now(
                records,
                subscription,
                now,
                invoice_now=bool(params.get("invoice_now")),
                prorate=bool(params.get("prorate")),
            )
        schedule = await records.require("subscription_schedule", schedule_id)
        schedule.update(status="canceled", canceled_at=now)
        schedules.set_current(schedule)
        await records.put(schedule)
        await records.emit("subscription_schedule.canceled", schedules.render(schedule), now)
    return respond(schedules.render(schedule))


@router.post("/v1/subscription_schedules/{schedule_id}/release")
async def release_schedule(request: Request, schedule_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        schedule = await records.require("subscription_schedule", schedule_id)
        if schedule["status"] not in ("active", "not_started"):
            raise invalid(f"You cannot release a schedule that is `{schedule['status']}`.")
        now = await records.customer_now(schedule["customer"])
        if schedule.get("subscription"):
            subscription = await records.require("subscription", schedule["subscription"])
            subscription["schedule"] = None
            await records.put(subscription)
        schedule.update(
            status="released", released_at=now, released_subscription=schedule.get("subscription"), subscription=None
        )
        schedules.set_current(schedule)
        await records.put(schedule)
        await records.emit("subscription_schedule.released", schedules.render(schedule), now)
    return respond(schedules.render(schedule))
