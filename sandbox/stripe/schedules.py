"""Subscription schedules: phases of items that replace each other at set dates (ramp deals).

A schedule is created for an existing subscription (`from_subscription`: one phase, the current period) and then
updated with all its phases, or created for a customer with `phases` and a `start_date`. At each phase's end the
subscription's items become the next phase's (prorated as the phase says); after the last phase the schedule
releases the subscription (`end_behavior=release`) or cancels it (`cancel`).
"""

from __future__ import annotations

from typing import Any

from sandbox.stripe import objects
from sandbox.stripe.changes import apply_item_changes, cancel_now
from sandbox.stripe.errors import invalid, missing_param
from sandbox.stripe.params import EXPAND, Arr, Enum, Int, IntOr, Metadata, Obj, Str
from sandbox.stripe.periods import boundary
from sandbox.stripe.records import Records
from sandbox.stripe.subscriptions import ADD_INVOICE_ITEM, ENDED, PRORATION, recurring, recurring_price

Doc = dict[str, Any]
PHASE = Obj(
    {
        "items": Arr(Obj({"price": Str(), "quantity": Int(minimum=0), "metadata": Metadata()})),
        "add_invoice_items": Arr(ADD_INVOICE_ITEM),
        "start_date": IntOr(("now",)),
        "end_date": IntOr(("now",)),
        "iterations": Int(minimum=1),
        "proration_behavior": PRORATION,
        "metadata": Metadata(),
        "description": Str(500),
        "collection_method": Enum(("charge_automatically", "send_invoice")),
        "invoice_settings": Obj({"days_until_due": Int(minimum=0)}),
        "billing_cycle_anchor": Enum(("automatic", "phase_start")),
    },
    required=("items",),
)
CREATE = Obj(
    {
        "customer": Str(),
        "from_subscription": Str(),
        "start_date": IntOr(("now",)),
        "end_behavior": Enum(("cancel", "none", "release", "renew")),
        "phases": Arr(PHASE),
        "metadata": Metadata(),
        "default_settings": Obj(
            {
                "collection_method": Enum(("charge_automatically", "send_invoice")),
                "invoice_settings": Obj({"days_until_due": Int(minimum=0)}),
            }
        ),
        "expand": EXPAND,
    }
)
UPDATE = Obj(
    {
        "phases": Arr(PHASE),
        "end_behavior": Enum(("cancel", "none", "release", "renew")),
        "metadata": Metadata(),
        "proration_behavior": PRORATION,
        "expand": EXPAND,
    }
)


def current_phase_end(schedule: Doc | None) -> int | None:
    if schedule is None or schedule["status"] != "active":
        return None
    phases = schedule["phases"]
    index = schedule.get("_phase", 0)
    return phases[index]["end_date"] if index < len(phases) else None


async def build_phases(records: Records, phases: list[Doc], start: int, param: str = "phases") -> list[Doc]:
    """Phases with concrete dates: each starts where the previous ended; the last may be open-ended."""
    built: list[Doc] = []
    moment = start
    for index, phase in enumerate(phases):
        name = f"{param}[{index}]"
        if not phase.get("items"):
            raise missing_param(f"{name}[items]")
        items = []
        for number, item in enumerate(phase["items"]):
            price = await recurring_price(records, item.get("price"), f"{name}[items][{number}][price]")
            items.append(
                {
                    "discounts": [],
                    "metadata": item.get("metadata") or {},
                    "plan": price["id"],
                    "price": price["id"],
                    "quantity": item.get("quantity"),
                    "tax_rates": [],
                    "billing_thresholds": None,
                }
            )
        end = phase.get("end_date")
        if end is None and phase.get("iterations"):
            rec = recurring(await records.require("price", items[0]["price"]))
            end = boundary(moment, rec["interval"], rec.get("interval_count", 1), phase["iterations"])
        if end is None and index < len(phases) - 1:
            raise missing_param(f"{name}[end_date]")
        if end is not None and end <= moment:
            raise invalid(
                "Phase end_date must be after its start_date (the previous phase's end).", f"{name}[end_date]"
            )
        built.append(
            {
                "add_invoice_items": [],
                "application_fee_percent": None,
                "billing_cycle_anchor": None,
                "collection_method": phase.get("collection_method"),
                "currency": None,
                "default_payment_method": None,
                "default_tax_rates": [],
                "description": phase.get("description"),
                "discounts": [],
                "end_date": end,
                "invoice_settings": None,
                "items": items,
                "metadata": phase.get("metadata") or {},
                "on_behalf_of": None,
                "proration_behavior": phase.get("proration_behavior") or "create_prorations",
                "start_date": moment,
                "transfer_data": None,
                "trial_end": None,
                "billing_thresholds": None,
            }
        )
        moment = end if end is not None else moment
    return built


def set_current(schedule: Doc) -> None:
    index = schedule.get("_phase", 0)
    if schedule["status"] == "active" and index < len(schedule["phases"]):
        phase = schedule["phases"][index]
        schedule["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}
    else:
        schedule["current_phase"] = None


async def enter_next_phase(records: Records, schedule: Doc, subscription: Doc, moment: int) -> Doc:
    """Move the subscription into the schedule's next phase (or release / cancel it after the last)."""
    index = schedule.get("_phase", 0) + 1
    schedule["_phase"] = index
    if index >= len(schedule["phases"]):
        if schedule["end_behavior"] == "cancel":
            subscription = await cancel_now(records, subscription, moment)
            schedule.update(status="completed", completed_at=moment)
        else:
            schedule.update(
                status="released", released_at=moment, released_subscription=subscription["id"], subscription=None
            )
            subscription["schedule"] = None
            await records.put(subscription)
        set_current(schedule)
        await records.put(schedule)
        return subscription
    phase = schedule["phases"][index]
    await apply_phase(records, subscription, phase, moment, at_boundary=True)
    set_current(schedule)
    await records.put(schedule)
    return subscription


async def apply_phase(
    records: Records, subscription: Doc, phase: Doc, moment: int, *, at_boundary: bool = False
) -> list[str]:
    wanted = {item["price"]: item for item in phase["items"]}
    changes: list[Doc] = []
    for item in subscription["items"]["data"]:
        if item["price"]["id"] in wanted:
            quantity = wanted.pop(item["price"]["id"])["quantity"]
            changes.append({"id": item["id"], "quantity": quantity})
        else:
            changes.append({"id": item["id"], "deleted": True})
    changes += [
        {"price": price, "quantity": item["quantity"], "metadata": item["metadata"]} for price, item in wanted.items()
    ]
    customer = await records.require("customer", subscription["customer"])
    added = await apply_item_changes(
        records, customer, subscription, changes, phase["proration_behavior"], moment, moment, at_boundary=at_boundary
    )
    subscription["_added_at_boundary"] = added
    await records.put(subscription)
    return added


def render(schedule: Doc) -> Doc:
    return objects.public(schedule)


def is_running(subscription: Doc) -> bool:
    return subscription["status"] not in ENDED


async def start(records: Records, schedule: Doc) -> Doc:
    """Begin a schedule: create its subscription from the first phase."""
    from sandbox.stripe import subscriptions  # the subscription module imports nothing of schedules

    phase = schedule["phases"][0]
    settings = schedule["default_settings"]
    params: Doc = {
        "customer": schedule["customer"],
        "items": [{"price": i["price"], "quantity": i["quantity"], "metadata": i["metadata"]} for i in phase["items"]],
        "metadata": {**schedule["metadata"], **phase["metadata"]},
        "proration_behavior": phase["proration_behavior"],
        "collection_method": phase.get("collection_method") or settings["collection_method"],
    }
    if params["collection_method"] == "send_invoice":
        params["days_until_due"] = (settings.get("invoice_settings") or {}).get("days_until_due") or 0
    subscription = await subscriptions.create(records, params)
    subscription["schedule"] = schedule["id"]
    await records.put(subscription)
    schedule.update(status="active", subscription=subscription["id"], _phase=0)
    set_current(schedule)
    await records.put(schedule)
    return subscription
