"""Invoices: built from subscription items and pending invoice items, finalized, paid, voided.

- Licensed items are billed in advance for the period starting at the boundary; metered items in arrears, for
  the period that just ended, from the meter events summed over it (graduated or volume tiers applied).
- Pending invoice items (prorations made with `create_prorations`, one-time items) are swept into the next
  invoice of their subscription.
- A cycle invoice stays a draft for an hour (`automatically_finalizes_at`), then is finalized: numbered, due
  date set for `send_invoice`; a $0 invoice is paid at once. `charge_automatically` invoices fail their payment
  attempt here (the emulator keeps no payment methods), which makes the subscription `past_due` (or
  `incomplete` for its first invoice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.stripe import objects
from sandbox.stripe.amounts import interval_text, licensed_amount, money_text, tiered_amount
from sandbox.stripe.ids import new_id
from sandbox.stripe.records import Records

Obj = dict[str, Any]
DRAFT_SECONDS = 3600
SHOWN_LINES = 10


def render_invoice(invoice: Obj) -> Obj:
    shown = objects.public(invoice)
    lines = invoice.get("_lines", [])
    shown["lines"] = objects.list_object(
        lines[:SHOWN_LINES], f"/v1/invoices/{invoice['id']}/lines", len(lines) > SHOWN_LINES
    )
    return shown


async def new_invoice(
    records: Records,
    customer: Obj,
    subscription: Obj | None,
    billing_reason: str,
    period: tuple[int, int],
    created: int,
    currency: str,
) -> Obj:
    invoice_id = new_id("invoice")
    invoice = objects.invoice(
        invoice_id,
        created,
        customer,
        currency,
        billing_reason=billing_reason,
        collection_method=(subscription or {}).get("collection_method") or "charge_automatically",
        subscription_id=None if subscription is None else subscription["id"],
        subscription_metadata=None if subscription is None else subscription["metadata"],
        period=period,
        account_name="q2c Sandbox",
    )
    invoice["_lines"] = []
    invoice["_days_until_due"] = (subscription or {}).get("days_until_due")
    return invoice


async def product_name(records: Records, price: Obj) -> str:
    product = await records.get("product", price["product"])
    return str(product["name"] if product else price["product"])


async def add_subscription_line(
    records: Records,
    invoice: Obj,
    subscription: Obj,
    item: Obj,
    *,
    amount: int,
    quantity: int | None,
    period: tuple[int, int],
    description: str,
    proration: bool = False,
    invoice_item_id: str | None = None,
) -> None:
    invoice["_lines"].append(
        objects.line_item(
            new_id("line_item"),
            invoice["id"],
            amount=amount,
            currency=invoice["currency"],
            description=description,
            period=period,
            quantity=quantity,
            price_obj=item["price"],
            subscription_id=subscription["id"],
            subscription_item_id=item["id"],
            invoice_item_id=invoice_item_id,
            proration=proration,
        )
    )


async def licensed_line(records: Records, invoice: Obj, subscription: Obj, item: Obj, period: tuple[int, int]) -> None:
    price, quantity = item["price"], item["quantity"] or 0
    name = await product_name(records, price)
    text = (
        f"{quantity} × {name} (at {money_text(Decimal(price['unit_amount_decimal'] or 0), price['currency'])} / "
        f"{interval_text(price)})"
    )
    await add_subscription_line(
        records,
        invoice,
        subscription,
        item,
        amount=licensed_amount(price, quantity),
        quantity=quantity,
        period=period,
        description=text,
    )


async def usage(records: Records, subscription: Obj, item: Obj, period: tuple[int, int]) -> Decimal:
    meter_id = (item["price"].get("recurring") or {}).get("meter")
    meter = await records.get("billing.meter", meter_id) if meter_id else None
    return aggregate(meter, await meter_events(records, meter_id, subscription["customer"], period))


async def meter_events(records: Records, meter_id: str | None, customer_id: str, window: tuple[int, int]) -> list[Obj]:
    """The customer's events on the meter with `start <= timestamp < end`, oldest first."""
    events = [
        e
        for e in await records.all("billing.meter_event", _meter=meter_id, _customer=customer_id)
        if window[0] <= e["timestamp"] < window[1]
    ]
    return sorted(events, key=lambda e: e["timestamp"])


def aggregate(meter: Obj | None, events: list[Obj]) -> Decimal:
    """The meter's `default_aggregation` over events given oldest first: count, sum, or the last value."""
    formula = (meter or {}).get("default_aggregation", {}).get("formula", "sum")
    value_key = (meter or {}).get("value_settings", {}).get("event_payload_key", "value")
    if formula == "count":
        return Decimal(len(events))
    values = [Decimal(str(e["payload"].get(value_key, "0"))) for e in events]
    if formula == "last":
        return values[-1] if values else Decimal(0)
    return sum(values, Decimal(0))


async def metered_line(records: Records, invoice: Obj, subscription: Obj, item: Obj, period: tuple[int, int]) -> None:
    quantity = await usage(records, subscription, item, period)
    name = await product_name(records, item["price"])
    amount = tiered_amount(item["price"], quantity)  # type: ignore[arg-type]
    whole_quantity = int(quantity) if quantity == int(quantity) else None
    await add_subscription_line(
        records,
        invoice,
        subscription,
        item,
        amount=amount,
        quantity=whole_quantity,
        period=period,
        description=f"{name} (metered usage: {quantity:f})",
    )


async def sweep_pending_items(records: Records, invoice: Obj, subscription_id: str | None, customer_id: str) -> None:
    """Pull the customer's pending invoice items for this subscription (or with none) into the invoice."""
    for item in await records.all("invoiceitem", customer=customer_id, invoice=None):
        parent = item.get("parent") or {}
        owner = (parent.get("subscription_details") or {}).get("subscription")
        if owner != subscription_id:
            continue
        item["invoice"] = invoice["id"]
        await records.put(item)
        price = await records.require("price", item["pricing"]["price_details"]["price"])
        sub_item = item.get("_subscription_item")
        invoice["_lines"].append(
            objects.line_item(
                new_id("line_item"),
                invoice["id"],
                amount=item["amount"],
                currency=item["currency"],
                description=item["description"],
                period=(item["period"]["start"], item["period"]["end"]),
                quantity=item["quantity"],
                price_obj=price,
                subscription_id=owner,
                subscription_item_id=sub_item if item["proration"] else None,
                invoice_item_id=item["id"],
                proration=item["proration"],
                credited_items=item.get("_credited_items"),
            )
        )


def update_totals(invoice: Obj) -> None:
    subtotal = sum(line["amount"] for line in invoice["_lines"])
    credited = invoice["pre_payment_credit_notes_amount"]
    invoice.update(subtotal=subtotal, subtotal_excluding_tax=subtotal, total=subtotal, total_excluding_tax=subtotal)
    if invoice["status"] == "draft":
        invoice.update(amount_due=subtotal, amount_remaining=subtotal)
        return
    due = max(0, subtotal - credited - max(0, -invoice["starting_balance"]))
    invoice.update(amount_due=due, amount_remaining=max(0, due - invoice["amount_paid"]))


async def save_new_invoice(records: Records, invoice: Obj, now: int) -> Obj:
    update_totals(invoice)
    invoice["automatically_finalizes_at"] = now + DRAFT_SECONDS
    await records.put(invoice)
    await records.emit("invoice.created", render_invoice(invoice), now)
    return invoice


async def finalize(records: Records, invoice: Obj, now: int) -> Obj:
    customer = await records.require("customer", invoice["customer"])
    sequence = customer["next_invoice_sequence"]
    customer["next_invoice_sequence"] = sequence + 1
    balance = customer["balance"]
    applied = min(max(0, -balance), invoice["total"])
    customer["balance"] = balance + applied
    await records.put(customer)
    base = f"https://invoice.stripe.com/i/sandbox/{invoice['id']}"
    invoice.update(
        status="open",
        number=f"{customer['invoice_prefix']}-{sequence:04d}",
        effective_at=now,
        starting_balance=balance,
        ending_balance=balance + applied,
        automatically_finalizes_at=None,
        hosted_invoice_url=base,
        invoice_pdf=base + "/pdf",
        status_transitions={**invoice["status_transitions"], "finalized_at": now},
    )
    if invoice["collection_method"] == "send_invoice":
        invoice["due_date"] = now + 86400 * (invoice.get("_days_until_due") or 0)
    update_totals(invoice)
    await records.put(invoice)
    await records.emit("invoice.finalized", render_invoice(invoice), now)
    if invoice["amount_due"] == 0:
        await mark_paid(records, invoice, now)
    elif invoice["collection_method"] == "charge_automatically":
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1, next_payment_attempt=None)
        await records.put(invoice)
        await records.emit("invoice.payment_failed", render_invoice(invoice), now)
        await _subscription_unpaid(records, invoice, now)
    return invoice


async def mark_paid(records: Records, invoice: Obj, now: int) -> Obj:
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        attempted=True,
        next_payment_attempt=None,
        status_transitions={**invoice["status_transitions"], "paid_at": now},
    )
    await records.put(invoice)
    await records.emit("invoice.paid", render_invoice(invoice), now)
    subscription_id = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if subscription_id:
        subscription = await records.get("subscription", subscription_id)
        if subscription and subscription["status"] in ("past_due", "incomplete", "unpaid"):
            previous = {"status": subscription["status"]}
            subscription["status"] = "active"
            await records.put(subscription)
            await records.emit("customer.subscription.updated", objects.public(subscription), now, previous)
    return invoice


async def _subscription_unpaid(records: Records, invoice: Obj, now: int) -> None:
    subscription_id = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    subscription = await records.get("subscription", subscription_id) if subscription_id else None
    if subscription is None or subscription["status"] not in ("active", "trialing"):
        return
    previous = {"status": subscription["status"]}
    subscription["status"] = "incomplete" if invoice["billing_reason"] == "subscription_create" else "past_due"
    await records.put(subscription)
    await records.emit("customer.subscription.updated", objects.public(subscription), now, previous)


async def void(records: Records, invoice: Obj, now: int) -> Obj:
    invoice.update(
        status="void", amount_remaining=0, status_transitions={**invoice["status_transitions"], "voided_at": now}
    )
    await records.put(invoice)
    await records.emit("invoice.voided", render_invoice(invoice), now)
    return invoice
