"""Time passing on a test clock: every boundary between the old and the new frozen time, in order.

At an item's period end the subscription rolls to its next period and a `subscription_cycle` invoice is drafted
(licensed items for the new period in advance, metered items for the ended period in arrears, pending invoice
items swept in); a draft is finalized an hour after it was created. Subscription schedules change phase,
subscriptions cancel at `cancel_at` or at the period end when `cancel_at_period_end` is set.
"""

from __future__ import annotations

from typing import Any

from sandbox.stripe import billing, objects, schedules
from sandbox.stripe.changes import cancel_now
from sandbox.stripe.errors import invalid
from sandbox.stripe.periods import boundary
from sandbox.stripe.records import Records
from sandbox.stripe.subscriptions import ENDED, is_metered, item_period, recurring

Doc = dict[str, Any]
MAX_STEPS = 5000


def next_time(subscription: Doc, schedule: Doc | None) -> int | None:
    if subscription["status"] in ENDED:
        return None
    times = [item["current_period_end"] for item in subscription["items"]["data"]]
    if subscription.get("cancel_at"):
        times.append(subscription["cancel_at"])
    phase_end = schedules.current_phase_end(schedule)
    if phase_end is not None:
        times.append(phase_end)
    return min(times) if times else None


def check_advance(subscriptions: list[Doc], frozen: int, target: int) -> None:
    """Stripe lets a clock move at most two intervals of the shortest subscription interval at once."""
    if target <= frozen:
        raise invalid("The frozen_time must be after the test clock's current frozen_time.", "frozen_time")
    limits = []
    for subscription in subscriptions:
        if subscription["status"] in ENDED:
            continue
        for item in subscription["items"]["data"]:
            rec = recurring(item["price"])
            limits.append(boundary(frozen, rec["interval"], rec.get("interval_count", 1), 2))
    if limits and target > min(limits):
        raise invalid(
            "Cannot advance the test clock more than two intervals of the shortest subscription interval "
            f"(to at most {min(limits)}).",
            "frozen_time",
        )


async def clock_subscriptions(records: Records, clock_id: str) -> list[Doc]:
    customers = {c["id"] for c in await records.all("customer", test_clock=clock_id)}
    return [s for s in await records.all("subscription") if s["customer"] in customers]


async def advance(records: Records, clock: Doc, target: int) -> None:
    for _ in range(MAX_STEPS):
        subscriptions = [s for s in await clock_subscriptions(records, clock["id"]) if s["status"] not in ENDED]
        drafts = [
            i
            for i in await records.all("invoice", test_clock=clock["id"], status="draft")
            if i.get("automatically_finalizes_at") is not None
        ]
        candidates: list[tuple[int, int, str, str]] = []
        for subscription in subscriptions:
            schedule = (
                await records.get("subscription_schedule", subscription["schedule"])
                if subscription.get("schedule")
                else None
            )
            moment = next_time(subscription, schedule)
            if moment is not None:
                candidates.append((moment, 1, "subscription", subscription["id"]))
        candidates += [(i["automatically_finalizes_at"], 0, "invoice", i["id"]) for i in drafts]
        customers = {c["id"] for c in await records.all("customer", test_clock=clock["id"])}
        candidates += [
            (s["phases"][0]["start_date"], 2, "subscription_schedule", s["id"])
            for s in await records.all("subscription_schedule", status="not_started")
            if s["customer"] in customers
        ]
        due = [c for c in candidates if c[0] <= target]
        if not due:
            break
        moment, _, kind, object_id = min(due)
        clock["frozen_time"] = moment
        await records.put(clock)
        if kind == "invoice":
            await billing.finalize(records, await records.require("invoice", object_id), moment)
        elif kind == "subscription_schedule":
            await schedules.start(records, await records.require("subscription_schedule", object_id))
        else:
            await at_boundary(records, await records.require("subscription", object_id), moment)
    clock["frozen_time"] = target


async def at_boundary(records: Records, subscription: Doc, moment: int) -> None:
    customer = await records.require("customer", subscription["customer"])
    period_ends = [item["current_period_end"] for item in subscription["items"]["data"]]
    cancel_due = subscription.get("cancel_at") is not None and subscription["cancel_at"] <= moment
    if cancel_due or (subscription["cancel_at_period_end"] and period_ends and min(period_ends) <= moment):
        has_usage = any(is_metered(item["price"]) for item in subscription["items"]["data"])
        await cancel_now(records, subscription, moment, invoice_now=has_usage)
        return
    schedule = (
        await records.get("subscription_schedule", subscription["schedule"]) if subscription.get("schedule") else None
    )
    if schedules.current_phase_end(schedule) == moment:
        subscription = await schedules.enter_next_phase(records, schedule, subscription, moment)  # type: ignore[arg-type]
        if subscription["status"] in ENDED:
            return
    added = set(subscription.pop("_added_at_boundary", None) or [])
    rolled = [item for item in subscription["items"]["data"] if item["current_period_end"] <= moment]
    fresh = [
        item
        for item in subscription["items"]["data"]
        if item["id"] in added and item["current_period_start"] == moment and not is_metered(item["price"])
    ]
    if not rolled and not fresh:
        await records.put(subscription)
        return
    previous = {"items": objects.public(subscription)["items"]}
    started = min((item["current_period_start"] for item in rolled), default=moment)
    invoice = await billing.new_invoice(
        records, customer, subscription, "subscription_cycle", (started, moment), moment, subscription["currency"]
    )
    for item in rolled:
        ended = (item["current_period_start"], item["current_period_end"])
        new_period = item_period(subscription, item["price"], moment)
        item["current_period_start"], item["current_period_end"] = new_period
        if is_metered(item["price"]):
            await billing.metered_line(records, invoice, subscription, item, ended)
        else:
            await billing.licensed_line(records, invoice, subscription, item, new_period)
    for item in fresh:
        await billing.licensed_line(
            records, invoice, subscription, item, (item["current_period_start"], item["current_period_end"])
        )
    await billing.sweep_pending_items(records, invoice, subscription["id"], customer["id"])
    if subscription["status"] == "trialing" and (subscription.get("trial_end") or 0) <= moment:
        previous["status"] = "trialing"
        subscription["status"] = "active"
    subscription["latest_invoice"] = invoice["id"]
    await records.put(subscription)
    await records.emit("customer.subscription.updated", objects.public(subscription), moment, previous)
    await billing.save_new_invoice(records, invoice, moment)
