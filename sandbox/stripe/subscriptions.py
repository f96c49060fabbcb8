"""Subscriptions: their items and periods, and their creation with the first invoice (changes: `changes.py`).

Periods live on each item (`current_period_start/end`, API 2025-03-31 and later). Before a future billing cycle
anchor (or a trial's end) the first period runs from the start to the anchor; the anchor may be at most one
interval ahead (`billing_cycle_anchor cannot be later than next natural billing date`). The first invoice bills
each licensed item's current period in advance (a short one prorated, free with `proration_behavior=none`),
backdated intervals included, and the one-time `add_invoice_items`.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.stripe import billing, objects
from sandbox.stripe.amounts import licensed_amount, prorated
from sandbox.stripe.errors import invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, Arr, Bool, Enum, Int, IntOr, Metadata, Obj, Str
from sandbox.stripe.periods import boundary, next_boundary_after, period_containing, previous_boundary, short_date
from sandbox.stripe.records import Records

Doc = dict[str, Any]
PRORATION = Enum(("always_invoice", "create_prorations", "none"))
ADD_INVOICE_ITEM = Obj({"price": Str(), "quantity": Int(minimum=1), "metadata": Metadata()})
CREATE = Obj(
    {
        "customer": Str(),
        "items": Arr(Obj({"price": Str(), "quantity": Int(minimum=0), "metadata": Metadata()})),
        "add_invoice_items": Arr(ADD_INVOICE_ITEM),
        "billing_cycle_anchor": Int(),
        "backdate_start_date": Int(),
        "proration_behavior": PRORATION,
        "collection_method": Enum(("charge_automatically", "send_invoice")),
        "days_until_due": Int(minimum=0),
        "metadata": Metadata(),
        "description": Str(500),
        "trial_end": IntOr(("now",)),
        "trial_period_days": Int(minimum=0),
        "cancel_at": Int(),
        "cancel_at_period_end": Bool(),
        "currency": Str(3),
        "payment_behavior": Enum(
            ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
        ),
        "off_session": Bool(),
        "default_tax_rates": Arr(Str()),
        "billing_mode": Obj({"type": Enum(("classic", "flexible"))}),
        "expand": EXPAND,
    },
    required=("customer",),
)
ENDED = ("canceled", "incomplete_expired")


def recurring(price: Doc) -> Doc:
    return price.get("recurring") or {}


def is_metered(price: Doc) -> bool:
    return recurring(price).get("usage_type") == "metered"


def item_period(subscription: Doc, price: Doc, moment: int) -> tuple[int, int]:
    rec = recurring(price)
    return period_containing(
        subscription["billing_cycle_anchor"],
        subscription["start_date"],
        rec["interval"],
        rec.get("interval_count", 1),
        moment,
    )


def natural_start(subscription: Doc, price: Doc, period_end: int) -> int:
    """Start of the full interval that ends at `period_end` (for proration fractions)."""
    rec = recurring(price)
    anchor = subscription["billing_cycle_anchor"]
    steps = 0
    while boundary(anchor, rec["interval"], rec.get("interval_count", 1), steps) < period_end:
        steps += 1
    while boundary(anchor, rec["interval"], rec.get("interval_count", 1), steps) > period_end:
        steps -= 1
    return boundary(anchor, rec["interval"], rec.get("interval_count", 1), steps - 1)


async def recurring_price(records: Records, price_id: str | None, param: str) -> Doc:
    if not price_id:
        raise missing_param(param)
    price = await records.require("price", price_id, param)
    if price["type"] != "recurring":
        raise invalid(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            param,
        )
    if not price["active"]:
        raise invalid("The price specified is inactive. This field only accepts active prices.", param)
    return price


async def one_time_price(records: Records, price_id: str | None, param: str) -> Doc:
    if not price_id:
        raise missing_param(param)
    price = await records.require("price", price_id, param)
    if price["type"] != "one_time":
        raise invalid(
            "The price specified is set to `type=recurring` but this field only accepts prices with `type=one_time`.",
            param,
        )
    return price


def check_quantity(price: Doc, quantity: int | None, param: str) -> None:
    if is_metered(price) and quantity is not None:
        raise invalid(
            f"Quantity should not be specified where usage_type is `metered`. Remove quantity from `{param}`.",
            f"{param}[quantity]",
        )


async def create(records: Records, params: Doc) -> Doc:
    customer = await records.require("customer", params["customer"], "customer")
    now = await records.now_for(customer)
    if not params.get("items"):
        raise missing_param("items")
    prices: list[Doc] = []
    for index, item in enumerate(params["items"]):
        price = await recurring_price(records, item.get("price"), f"items[{index}][price]")
        check_quantity(price, item.get("quantity"), f"items[{index}]")
        if price["id"] in [p["id"] for p in prices]:
            raise invalid(f"Cannot add multiple subscription items with the same price: {price['id']}", "items")
        prices.append(price)
    currencies = {p["currency"] for p in prices}
    if len(currencies) > 1:
        raise invalid("All prices on a subscription must have the same `currency`.", "items")
    currency = currencies.pop()
    extras = [
        await one_time_price(records, a.get("price"), f"add_invoice_items[{i}][price]")
        for i, a in enumerate(params.get("add_invoice_items") or [])
    ]
    if any(p["currency"] != currency for p in extras):
        raise invalid("All prices on a subscription must have the same `currency`.", "add_invoice_items")
    collection = params.get("collection_method") or "charge_automatically"
    if collection == "send_invoice" and params.get("days_until_due") is None:
        raise missing_param("days_until_due")
    if collection != "send_invoice" and params.get("days_until_due") is not None:
        raise invalid("`days_until_due` can only be set when `collection_method=send_invoice`.", "days_until_due")
    start = params.get("backdate_start_date") or now
    if start > now:
        raise invalid("backdate_start_date must be in the past.", "backdate_start_date")
    trial_end = _trial_end(params, now)
    anchor = params.get("billing_cycle_anchor") or trial_end or start
    _check_anchor(params, anchor, start, now, prices, trial_end)

    subscription_id = new_id("subscription")
    subscription = objects.subscription(
        subscription_id,
        now,
        {**params, "_trial_end": trial_end},
        customer,
        currency,
        anchor,
        start,
        "trialing" if trial_end else "active",
    )
    subscription["_proration_behavior"] = params.get("proration_behavior") or "create_prorations"
    items = []
    for price, item in zip(prices, params["items"], strict=True):
        period = item_period(subscription, price, now)
        items.append(
            objects.subscription_item(
                new_id("subscription_item"),
                now,
                subscription_id,
                price,
                item.get("quantity"),
                item.get("metadata") or {},
                period,
            )
        )
    subscription["items"]["data"] = items

    invoice = await billing.new_invoice(
        records, customer, subscription, "subscription_create", (now, now), now, currency
    )
    for item in items:
        if not is_metered(item["price"]):
            await _first_charges(records, invoice, subscription, item, trial_end is not None)
    for price, extra in zip(extras, params.get("add_invoice_items") or [], strict=True):
        await _one_time_line(records, invoice, customer, subscription, price, extra.get("quantity") or 1, now)
    subscription["latest_invoice"] = invoice["id"]
    await _save_searchable(records, subscription)
    await records.emit("customer.subscription.created", objects.public(subscription), now)
    await billing.save_new_invoice(records, invoice, now)
    await billing.finalize(records, invoice, now)
    return await records.require("subscription", subscription_id)


async def _save_searchable(records: Records, subscription: Doc) -> None:
    subscription["_searchable_at"] = time.time() + records.settings.search_lag_seconds
    await records.put(subscription)


def _trial_end(params: Doc, now: int) -> int | None:
    trial_end = params.get("trial_end")
    if trial_end == "now":
        return None
    if trial_end is not None:
        if trial_end <= now:
            raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end")
        return int(trial_end)
    if params.get("trial_period_days"):
        return now + int(params["trial_period_days"]) * 86400
    return None


def _check_anchor(params: Doc, anchor: int, start: int, now: int, prices: list[Doc], trial_end: int | None) -> None:
    if params.get("billing_cycle_anchor") is None:
        return
    if anchor < start:
        raise invalid("billing_cycle_anchor cannot be earlier than the subscription's start.", "billing_cycle_anchor")
    base = trial_end or now  # a backdated subscription's anchor is still at most one interval from now
    for price in prices:
        rec = recurring(price)
        natural = next_boundary_after(base, rec["interval"], rec.get("interval_count", 1), base)
        if anchor > natural:
            raise invalid(
                f"billing_cycle_anchor cannot be later than next natural billing date ({natural}) for plan",
                "billing_cycle_anchor",
            )


async def _first_charges(records: Records, invoice: Doc, subscription: Doc, item: Doc, trialing: bool) -> None:
    """The first invoice's charge for a licensed item: its current period in advance (prorated when the
    period is short of a full interval, free with `proration_behavior=none`), backdated periods included."""
    price, quantity = item["price"], item["quantity"] or 0
    name = await billing.product_name(records, price)
    period = (item["current_period_start"], item["current_period_end"])
    if trialing:
        await billing.add_subscription_line(
            records,
            invoice,
            subscription,
            item,
            amount=0,
            quantity=quantity,
            period=period,
            description=f"Trial period for {name}",
        )
        return
    rec = recurring(price)
    anchor, interval, count = subscription["billing_cycle_anchor"], rec["interval"], rec.get("interval_count", 1)
    moment = subscription["start_date"]
    while moment < period[1]:
        # natural intervals, counted back from the anchor: full ones billed whole, a partial one prorated
        full_start = previous_boundary(anchor, interval, count, moment)
        segment = (moment, min(next_boundary_after(anchor, interval, count, moment), period[1]))
        if moment == full_start:
            await billing.licensed_line(records, invoice, subscription, item, segment)
        elif subscription["_proration_behavior"] != "none":
            amount = prorated(price, quantity, (full_start, segment[1]), moment)
            await billing.add_subscription_line(
                records,
                invoice,
                subscription,
                item,
                amount=amount,
                quantity=quantity,
                period=(moment, segment[1]),
                description=f"Remaining time on {quantity} × {name} after {short_date(moment)}",
                proration=True,
            )
        moment = segment[1]


async def _one_time_line(
    records: Records, invoice: Doc, customer: Doc, subscription: Doc, price: Doc, quantity: int, now: int
) -> None:
    name = await billing.product_name(records, price)
    amount = licensed_amount(price, quantity)
    item = objects.invoiceitem(
        new_id("invoiceitem"),
        now,
        customer,
        amount=amount,
        currency=price["currency"],
        description=name,
        period=(now, now),
        quantity=quantity,
        price_obj=price,
        subscription_id=subscription["id"],
        subscription_item_id=None,
        proration=False,
    )
    item["invoice"] = invoice["id"]
    await records.put(item)
    invoice["_lines"].append(
        objects.line_item(
            new_id("line_item"),
            invoice["id"],
            amount=amount,
            currency=price["currency"],
            description=name,
            period=(now, now),
            quantity=quantity,
            price_obj=price,
            subscription_id=subscription["id"],
            subscription_item_id=None,
            invoice_item_id=item["id"],
            proration=False,
        )
    )


def render(subscription: Doc, expand: set[str]) -> Doc:
    shown = objects.public(subscription)
    if "items.data.price.tiers" in expand:
        for shown_item, item in zip(shown["items"]["data"], subscription["items"]["data"], strict=True):
            shown_item["price"] = objects.render_price(item["price"], {"tiers"})
    return shown
