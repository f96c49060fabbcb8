"""Changes to a live subscription: updates with prorations to the second, and cancellation.

A change at `proration_date` (or now) credits "Unused time on <old>" and debits "Remaining time on <new>" over the
item's natural period, each line rounded on its own; metered items are not prorated. `create_prorations` leaves
them as pending invoice items for the next invoice, `always_invoice` invoices them at once (when there is anything
to invoice), `none` makes none. A credit proration names the invoice lines that billed the time it credits
(`proration_details.credited_items`, API 2026-05-27 and later). An item may be priced inline (`price_data`): the
price is created for it, inactive, as Stripe does. A canceled subscription still takes new metadata.
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.stripe import billing, objects
from sandbox.stripe.amounts import licensed_amount, prorated
from sandbox.stripe.errors import StripeError, invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, Arr, Bool, Dec, Enum, Int, IntOr, Metadata, Obj, Str
from sandbox.stripe.periods import short_date
from sandbox.stripe.records import Records
from sandbox.stripe.subscriptions import (
    ADD_INVOICE_ITEM,
    ENDED,
    PRORATION,
    check_quantity,
    is_metered,
    item_period,
    natural_start,
    one_time_price,
    recurring_price,
)

Doc = dict[str, Any]
PRICE_DATA = Obj(
    {
        "currency": Str(3),
        "product": Str(),
        "recurring": Obj(
            {"interval": Enum(("day", "month", "week", "year")), "interval_count": Int(minimum=1)},
            required=("interval",),
        ),
        "unit_amount": Int(minimum=0),
        "unit_amount_decimal": Dec(),
        "tax_behavior": Enum(("exclusive", "inclusive", "unspecified")),
    },
    required=("currency", "product", "recurring"),
)
ITEM_CHANGE = Obj(
    {
        "id": Str(),
        "price": Str(),
        "price_data": PRICE_DATA,
        "quantity": Int(minimum=0),
        "deleted": Bool(),
        "clear_usage": Bool(),
        "metadata": Metadata(),
    }
)
# What a canceled subscription still accepts (Stripe: "A canceled subscription can only update its
# cancellation_details and metadata").
ENDED_UPDATABLE = frozenset({"metadata", "cancellation_details", "expand"})
UPDATE = Obj(
    {
        "items": Arr(ITEM_CHANGE),
        "add_invoice_items": Arr(ADD_INVOICE_ITEM),
        "proration_behavior": PRORATION,
        "proration_date": Int(),
        "metadata": Metadata(),
        "description": Str(500),
        "cancel_at_period_end": Bool(),
        "cancel_at": Int(),
        "collection_method": Enum(("charge_automatically", "send_invoice")),
        "days_until_due": Int(minimum=0),
        "billing_cycle_anchor": Enum(("now", "unchanged")),
        "trial_end": IntOr(("now",)),
        "payment_behavior": Enum(
            ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
        ),
        "off_session": Bool(),
        "default_tax_rates": Arr(Str()),
        "cancellation_details": Obj({"comment": Str(), "feedback": Str()}),
        "expand": EXPAND,
    }
)
CANCEL = Obj(
    {
        "invoice_now": Bool(),
        "prorate": Bool(),
        "expand": EXPAND,
        "cancellation_details": Obj({"comment": Str(), "feedback": Str()}),
    }
)


async def cancel_now(
    records: Records,
    subscription: Doc,
    now: int,
    *,
    invoice_now: bool = False,
    prorate: bool = False,
    details: Doc | None = None,
) -> Doc:
    if subscription["status"] in ENDED:
        return subscription
    customer = await records.require("customer", subscription["customer"])
    if prorate:
        for item in subscription["items"]["data"]:
            if not is_metered(item["price"]):
                await _proration_item(
                    records, customer, subscription, item, item["price"], item["quantity"] or 0, now, credit=True
                )
    if invoice_now:
        invoice = await billing.new_invoice(
            records, customer, subscription, "subscription_cycle", (now, now), now, subscription["currency"]
        )
        for item in subscription["items"]["data"]:
            if is_metered(item["price"]):
                await billing.metered_line(records, invoice, subscription, item, (item["current_period_start"], now))
        await billing.sweep_pending_items(records, invoice, subscription["id"], customer["id"])
        await billing.save_new_invoice(records, invoice, now)
        await billing.finalize(records, invoice, now)
        subscription = await records.require("subscription", subscription["id"])
        subscription["latest_invoice"] = invoice["id"]
    previous = {"status": subscription["status"]}
    subscription.update(
        status="canceled",
        canceled_at=now,
        ended_at=now,
        cancel_at_period_end=False,
        cancellation_details={
            "comment": (details or {}).get("comment"),
            "feedback": (details or {}).get("feedback"),
            "reason": "cancellation_requested",
        },
    )
    await records.put(subscription)
    if subscription.get("schedule"):
        schedule = await records.get("subscription_schedule", subscription["schedule"])
        if schedule is not None and schedule["status"] in ("active", "not_started"):
            schedule.update(status="canceled", canceled_at=now)
            await records.put(schedule)
    await records.emit("customer.subscription.deleted", objects.public(subscription), now, previous)
    return subscription


async def _proration_item(
    records: Records,
    customer: Doc,
    subscription: Doc,
    item: Doc,
    price: Doc,
    quantity: int,
    since: int,
    *,
    credit: bool,
) -> Doc | None:
    """A pending proration invoice item for `item` from `since` to its period's end."""
    end = item["current_period_end"]
    full = (natural_start(subscription, price, end), end)
    amount = prorated(price, quantity, full, since)
    if amount == 0:
        return None
    name = await billing.product_name(records, price)
    what = "Unused time" if credit else "Remaining time"
    credited = await _credited_items(records, subscription["id"], item, price, since) if credit else None
    invoice_item = objects.invoiceitem(
        new_id("invoiceitem"),
        since,
        customer,
        amount=-amount if credit else amount,
        currency=price["currency"],
        description=f"{what} on {quantity} × {name} after {short_date(since)}",
        period=(since, end),
        quantity=quantity,
        price_obj=price,
        subscription_id=subscription["id"],
        subscription_item_id=item["id"],
        proration=True,
    )
    invoice_item["_credited_items"] = credited
    await records.put(invoice_item)
    return invoice_item


async def _credited_items(records: Records, subscription_id: str, item: Doc, price: Doc, since: int) -> Doc | None:
    """The invoice lines that billed `item` at `price` for the time from `since`: the newest invoice's."""
    for invoice in sorted(await records.all("invoice"), key=lambda i: i["created"], reverse=True):
        owner = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        if owner != subscription_id or invoice["status"] == "void":
            continue
        lines = [line["id"] for line in invoice["_lines"] if _bills(line, item, price, since)]
        if lines:
            return {"invoice": invoice["id"], "invoice_line_items": lines}
    return None


def _bills(line: Doc, item: Doc, price: Doc, since: int) -> bool:
    details = (line.get("parent") or {}).get("subscription_item_details") or {}
    return bool(
        details.get("subscription_item") == item["id"]
        and line["pricing"]["price_details"]["price"] == price["id"]
        and line["amount"] > 0
        and line["period"]["start"] <= since < line["period"]["end"]
    )


async def update(records: Records, subscription: Doc, params: Doc) -> tuple[Doc, Doc]:
    """Apply an update; returns the subscription and its previous attributes."""
    customer = await records.require("customer", subscription["customer"])
    now = await records.now_for(customer)
    if subscription["status"] in ENDED:
        return await _update_ended(records, subscription, params, now)
    behavior = params.get("proration_behavior") or "create_prorations"
    at = params.get("proration_date") or now
    previous: Doc = {}
    if params.get("items") is not None:
        previous["items"] = copy.deepcopy(objects.public(subscription)["items"])
        await apply_item_changes(records, customer, subscription, params["items"], behavior, at, now)
    for key in ("description", "cancel_at_period_end", "cancel_at", "collection_method", "days_until_due"):
        if key in params:
            previous[key] = subscription.get(key)
            subscription[key] = params[key] if key != "cancel_at_period_end" else bool(params[key])
    _update_metadata(subscription, params, previous)
    if params.get("trial_end") == "now" and subscription["status"] == "trialing":
        previous["status"] = "trialing"
        subscription.update(status="active", trial_end=now)
    extras = params.get("add_invoice_items") or []
    for index, extra in enumerate(extras):
        price = await one_time_price(records, extra.get("price"), f"add_invoice_items[{index}][price]")
        quantity = extra.get("quantity") or 1
        item = objects.invoiceitem(
            new_id("invoiceitem"),
            now,
            customer,
            amount=licensed_amount(price, quantity),
            currency=price["currency"],
            description=await billing.product_name(records, price),
            period=(now, now),
            quantity=quantity,
            price_obj=price,
            subscription_id=subscription["id"],
            subscription_item_id=None,
            proration=False,
        )
        await records.put(item)
    await records.put(subscription)
    if behavior == "always_invoice" and await _anything_pending(records, subscription, customer):
        invoice = await billing.new_invoice(
            records, customer, subscription, "subscription_update", (at, at), now, subscription["currency"]
        )
        await billing.sweep_pending_items(records, invoice, subscription["id"], customer["id"])
        await billing.save_new_invoice(records, invoice, now)
        subscription["latest_invoice"] = invoice["id"]
        await records.put(subscription)
        await billing.finalize(records, invoice, now)
        subscription = await records.require("subscription", subscription["id"])
    await records.emit("customer.subscription.updated", objects.public(subscription), now, previous)
    return subscription, previous


async def _update_ended(records: Records, subscription: Doc, params: Doc, now: int) -> tuple[Doc, Doc]:
    refused = sorted(k for k in params if k not in ENDED_UPDATABLE)
    if refused:
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.", refused[0])
    previous: Doc = {}
    _update_metadata(subscription, params, previous)
    if params.get("cancellation_details") is not None:
        previous["cancellation_details"] = subscription["cancellation_details"]
        details = {**subscription["cancellation_details"], **params["cancellation_details"]}
        subscription["cancellation_details"] = details
    await records.put(subscription)
    await records.emit("customer.subscription.updated", objects.public(subscription), now, previous)
    return subscription, previous


def _update_metadata(subscription: Doc, params: Doc, previous: Doc) -> None:
    """Keys are merged in, a key set to "" is removed, `metadata=""` clears them all."""
    if "metadata" not in params:
        return
    previous["metadata"] = subscription["metadata"]
    merged = {} if params["metadata"] is None else {**subscription["metadata"], **params["metadata"]}
    subscription["metadata"] = {k: v for k, v in merged.items() if v != ""}


async def _anything_pending(records: Records, subscription: Doc, customer: Doc) -> bool:
    """`always_invoice` invoices the prorations (and other pending items) an update leaves; with none, no invoice
    is made (*unverified*: Stripe documents "always invoice immediately for prorations", not an empty invoice)."""
    pending = await records.all("invoiceitem", customer=customer["id"], invoice=None)
    return any(
        ((i.get("parent") or {}).get("subscription_details") or {}).get("subscription") == subscription["id"]
        for i in pending
    )


async def apply_item_changes(
    records: Records,
    customer: Doc,
    subscription: Doc,
    changes: list[Doc],
    behavior: str,
    at: int,
    now: int,
    *,
    at_boundary: bool = False,
) -> list[str]:
    """Change, add and delete items as `items[]` says; returns the IDs of the items added. At a billing
    boundary (a schedule's phase change) an item added for a period starting then is billed in full by the
    cycle's invoice, not prorated."""
    items: list[Doc] = subscription["items"]["data"]
    added: list[str] = []
    by_id = {item["id"]: item for item in items}
    for index, change in enumerate(changes):
        param = f"items[{index}]"
        item = by_id.get(change.get("id") or "")
        if change.get("id") and item is None:
            raise StripeError(
                400,
                f"Invalid subscription_item id: {change['id']}",
                param=f"{param}[id]",
                code="resource_missing",
                validation=True,
            )
        if item is not None and change.get("deleted"):
            if behavior != "none" and not is_metered(item["price"]):
                _check_proration_date(item, at)
                await _proration_item(
                    records, customer, subscription, item, item["price"], item["quantity"] or 0, at, credit=True
                )
            items.remove(item)
            continue
        price = (
            item["price"]
            if item is not None and not change.get("price") and not change.get("price_data")
            else await _item_price(records, change, param, now)
        )
        if price["currency"] != subscription["currency"]:
            raise invalid("All prices on a subscription must have the same `currency`.", f"{param}[price]")
        check_quantity(price, change.get("quantity"), param)
        if item is None:
            if any(i["price"]["id"] == price["id"] for i in items):
                raise invalid(f"Cannot add multiple subscription items with the same price: {price['id']}", "items")
            item = objects.subscription_item(
                new_id("subscription_item"),
                now,
                subscription["id"],
                price,
                change.get("quantity"),
                change.get("metadata") or {},
                item_period(subscription, price, now),
            )
            items.append(item)
            added.append(item["id"])
            if (
                behavior != "none"
                and not is_metered(price)
                and not (at_boundary and item["current_period_start"] == at)
            ):
                _check_proration_date(item, at)
                await _proration_item(
                    records, customer, subscription, item, price, item["quantity"] or 0, at, credit=False
                )
            continue
        quantity = change.get("quantity") if change.get("quantity") is not None else item["quantity"]
        changed = price["id"] != item["price"]["id"] or quantity != item["quantity"]
        if changed and behavior != "none" and not is_metered(price) and not is_metered(item["price"]):
            _check_proration_date(item, at)
            await _proration_item(
                records, customer, subscription, item, item["price"], item["quantity"] or 0, at, credit=True
            )
            await _proration_item(records, customer, subscription, item, price, quantity or 0, at, credit=False)
        if price["id"] != item["price"]["id"]:
            item["price"], item["plan"] = price, objects.plan(price)
        item["quantity"] = None if is_metered(price) else quantity
        if change.get("metadata") is not None:
            item["metadata"] = {**item["metadata"], **change["metadata"]}
    return added


async def _item_price(records: Records, change: Doc, param: str, now: int) -> Doc:
    data = change.get("price_data")
    if data is None:
        return await recurring_price(records, change.get("price"), f"{param}[price]")
    if change.get("price"):
        raise invalid("You may only specify one of these parameters: price, price_data.", f"{param}[price]")
    await records.require("product", data["product"], f"{param}[price_data][product]")
    if data.get("unit_amount") is None and data.get("unit_amount_decimal") is None:
        raise missing_param(f"{param}[price_data][unit_amount]")
    price = objects.price(new_id("price"), now, {**data, "active": False})
    await records.put(price)
    return price


def _check_proration_date(item: Doc, at: int) -> None:
    if not item["current_period_start"] <= at <= item["current_period_end"]:
        raise invalid("proration_date must be within the current billing period of the subscription.", "proration_date")
