"""Invoices (retrieve, list, update, lines, finalize, pay, void, preview) and invoice items."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.store import DocumentStore
from sandbox.stripe import billing, changes, cycles, objects, subscriptions
from sandbox.stripe.amounts import licensed_amount
from sandbox.stripe.errors import StripeError, invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, Arr, Bool, Enum, Int, Metadata, Obj, Str, page_schema
from sandbox.stripe.records import Records
from sandbox.stripe.routes.common import merged_metadata, open_records, page, read_params, respond

router = APIRouter()

RETRIEVE = Obj({"expand": EXPAND})
LIST = page_schema(
    customer=Str(),
    subscription=Str(),
    test_clock=Str(),
    status=Enum(("draft", "open", "paid", "uncollectible", "void")),
    collection_method=Enum(("charge_automatically", "send_invoice")),
)
LINES = page_schema()
PAY = Obj(
    {"paid_out_of_band": Bool(), "payment_method": Str(), "off_session": Bool(), "forgive": Bool(), "expand": EXPAND}
)
UPDATE = Obj(
    {
        "metadata": Metadata(),
        "description": Str(),
        "footer": Str(),
        "auto_advance": Bool(),
        "collection_method": Enum(("charge_automatically", "send_invoice")),
        "days_until_due": Int(minimum=0),
        "due_date": Int(),
        "expand": EXPAND,
    }
)
# Monetary and collection terms are fixed once an invoice is finalized; metadata, description, footer stay editable.
DRAFT_ONLY = ("collection_method", "days_until_due", "due_date")
FINALIZE = Obj({"auto_advance": Bool(), "expand": EXPAND})
PREVIEW = Obj(
    {
        "customer": Str(),
        "subscription": Str(),
        "subscription_details": Obj(
            {
                "items": Arr(changes.ITEM_CHANGE),
                "proration_behavior": subscriptions.PRORATION,
                "proration_date": Int(),
                "cancel_at": Int(),
                "cancel_at_period_end": Bool(),
                "cancel_now": Bool(),
                "billing_cycle_anchor": Enum(("now", "unchanged")),
            }
        ),
        "expand": EXPAND,
    }
)
UPDATE_PREVIEWED = ("items", "proration_behavior", "proration_date", "cancel_at", "cancel_at_period_end")
INVOICE_ITEM = Obj(
    {
        "customer": Str(),
        "pricing": Obj({"price": Str()}),
        "quantity": Int(minimum=0),
        "amount": Int(),
        "currency": Str(3),
        "description": Str(),
        "subscription": Str(),
        "period": Obj({"start": Int(), "end": Int()}, required=("start", "end")),
        "metadata": Metadata(),
        "expand": EXPAND,
    },
    required=("customer",),
)
INVOICE_ITEM_LIST = page_schema(customer=Str(), invoice=Str(), pending=Bool())


# --- invoices ---------------------------------------------------------------------------------------------


@router.get("/v1/invoices")
async def list_invoices(request: Request) -> JSONResponse:
    params = await read_params(request, LIST)
    async with open_records(request) as records:
        found = [
            i
            for i in await records.all("invoice")
            if (params.get("customer") is None or i["customer"] == params["customer"])
            and (params.get("subscription") is None or _subscription_of(i) == params["subscription"])
            and (params.get("status") is None or i["status"] == params["status"])
            and (params.get("test_clock") is None or i["test_clock"] == params["test_clock"])
            and (params.get("collection_method") is None or i["collection_method"] == params["collection_method"])
        ]
    return respond(page(found, params, "/v1/invoices", billing.render_invoice))


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    return ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")


@router.post("/v1/invoices/create_preview")
async def create_preview(request: Request) -> JSONResponse:
    """The invoice an update would produce (or the next one), computed for real and then rolled back."""
    params = await read_params(request, PREVIEW)
    store: DocumentStore = request.app.state.store
    try:
        async with store.transaction() as tx:
            records = Records(tx=tx, settings=request.app.state.settings)
            raise _Preview(await _preview(records, params))
    except _Preview as preview:
        return respond(preview.invoice)


class _Preview(Exception):
    def __init__(self, invoice: dict[str, Any]) -> None:
        super().__init__("preview")
        self.invoice = invoice


async def _preview(records: Records, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("customer") and not params.get("subscription"):
        raise missing_param("customer")
    if not params.get("subscription"):
        customer = await records.require("customer", params["customer"], "customer")
        now = await records.now_for(customer)
        invoice = await billing.new_invoice(records, customer, None, "manual", (now, now), now, "usd")
        await billing.sweep_pending_items(records, invoice, None, customer["id"])
        return _as_preview(invoice)
    subscription = await records.require("subscription", params["subscription"], "subscription")
    if params.get("customer") and params["customer"] != subscription["customer"]:
        raise invalid("The subscription does not belong to this customer.", "subscription")
    details = params.get("subscription_details") or {}
    update = {k: v for k, v in details.items() if k in UPDATE_PREVIEWED}
    before = {i["id"] for i in await records.all("invoice")}
    if details.get("cancel_now"):
        return await _cancellation_preview(records, subscription, details, before)
    if update:
        subscription, _ = await changes.update(records, subscription, update)
    created = [i for i in await records.all("invoice") if i["id"] not in before]
    if created:
        return _as_preview(created[-1])
    moment = min(item["current_period_end"] for item in subscription["items"]["data"])
    await cycles.at_boundary(records, subscription, moment)
    created = [i for i in await records.all("invoice") if i["id"] not in before]
    if not created:
        raise invalid("No upcoming invoices for this subscription.", "subscription", "invoice_upcoming_none")
    return _as_preview(created[-1])


async def _cancellation_preview(
    records: Records, subscription: dict[str, Any], details: dict[str, Any], before: set[str]
) -> dict[str, Any]:
    """The final invoice of canceling now: usage not yet invoiced, pending items and (unless
    `proration_behavior=none`) the unused time of licensed items credited from `proration_date`."""
    if subscription["status"] in subscriptions.ENDED:
        raise invalid("The subscription is already canceled.", "subscription")
    if details.get("items"):
        raise invalid("You cannot change items when previewing a cancellation (`cancel_now`).", "subscription_details")
    moment = details.get("proration_date") or await records.customer_now(subscription["customer"])
    prorate = details.get("proration_behavior") != "none"
    await changes.cancel_now(records, subscription, moment, invoice_now=True, prorate=prorate)
    created = [i for i in await records.all("invoice") if i["id"] not in before]
    return _as_preview(created[-1])


def _as_preview(invoice: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(billing.render_invoice(invoice))
    preview_id = "upcoming_" + invoice["id"]
    shown["id"] = preview_id
    for line in shown["lines"]["data"]:
        line["id"] = line["id"].replace("il_", "il_tmp_", 1)
        line["invoice"] = preview_id
    shown["lines"]["url"] = f"/v1/invoices/{preview_id}/lines"
    return shown


@router.get("/v1/invoices/{invoice_id}")
async def retrieve_invoice(request: Request, invoice_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
    return respond(billing.render_invoice(invoice))


@router.post("/v1/invoices/{invoice_id}")
async def update_invoice(request: Request, invoice_id: str) -> JSONResponse:
    params = await read_params(request, UPDATE)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
        refused = [name for name in DRAFT_ONLY if name in params and invoice["status"] != "draft"]
        if refused:
            raise invalid(
                f"You can only update `{refused[0]}` on a draft invoice; this invoice is {invoice['status']}.",
                refused[0],
                "invoice_not_editable",
            )
        previous = _apply_update(invoice, params)
        await records.put(invoice)
        now = await records.customer_now(invoice["customer"])
        await records.emit("invoice.updated", billing.render_invoice(invoice), now, previous)
    return respond(billing.render_invoice(invoice))


def _apply_update(invoice: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Change the invoice in place; returns the previous values of what changed (the event's previous_attributes)."""
    previous: dict[str, Any] = {}
    for name, value in params.items():
        if name == "expand":
            continue
        if name == "days_until_due":
            invoice["_days_until_due"] = value  # applied to due_date at finalization
            continue
        if name == "metadata":
            value = merged_metadata(invoice["metadata"], value)
        if invoice.get(name) != value:
            previous[name] = invoice.get(name)
            invoice[name] = value
    return previous


@router.get("/v1/invoices/{invoice_id}/lines")
async def invoice_lines(request: Request, invoice_id: str) -> JSONResponse:
    params = await read_params(request, LINES)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
    lines = list(reversed(invoice["_lines"]))  # page() lists newest first; lines keep invoice order
    return respond(page(lines, params, f"/v1/invoices/{invoice_id}/lines", lambda line: line))


@router.post("/v1/invoices/{invoice_id}/finalize")
async def finalize_invoice(request: Request, invoice_id: str) -> JSONResponse:
    await read_params(request, FINALIZE)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
        if invoice["status"] != "draft":
            raise invalid(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                code="invoice_not_editable",
            )
        invoice = await billing.finalize(records, invoice, await records.customer_now(invoice["customer"]))
    return respond(billing.render_invoice(invoice))


@router.post("/v1/invoices/{invoice_id}/pay")
async def pay_invoice(request: Request, invoice_id: str) -> JSONResponse:
    params = await read_params(request, PAY)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
        now = await records.customer_now(invoice["customer"])
        if invoice["status"] == "paid":
            raise invalid("Invoice is already paid")
        if invoice["status"] == "void":
            raise invalid("You can't pay a voided invoice.")
        if invoice["status"] == "draft":
            invoice = await billing.finalize(records, invoice, now)
            if invoice["status"] == "paid":
                return respond(billing.render_invoice(invoice))
        if not params.get("paid_out_of_band"):
            raise StripeError(
                400,
                "This customer has no attached payment source or default payment method. Please consider "
                "adding a default payment method, or pay with `paid_out_of_band=true`.",
            )
        invoice = await billing.mark_paid(records, invoice, now)
    return respond(billing.render_invoice(invoice))


@router.post("/v1/invoices/{invoice_id}/void")
async def void_invoice(request: Request, invoice_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        invoice = await records.require("invoice", invoice_id)
        if invoice["status"] != "open":
            raise invalid(f"You can only void an open invoice; this one is {invoice['status']}.")
        invoice = await billing.void(records, invoice, await records.customer_now(invoice["customer"]))
    return respond(billing.render_invoice(invoice))


# --- invoice items ----------------------------------------------------------------------------------------


@router.post("/v1/invoiceitems")
async def create_invoice_item(request: Request) -> JSONResponse:
    params = await read_params(request, INVOICE_ITEM)
    async with open_records(request) as records:
        customer = await records.require("customer", params["customer"], "customer")
        now = await records.now_for(customer)
        price_id = (params.get("pricing") or {}).get("price")
        if not price_id:
            raise missing_param("pricing[price]")
        price = await subscriptions.one_time_price(records, price_id, "pricing[price]")
        if params.get("subscription"):
            await records.require("subscription", params["subscription"], "subscription")
        quantity = params.get("quantity") or 1
        period = params.get("period") or {"start": now, "end": now}
        item = objects.invoiceitem(
            new_id("invoiceitem"),
            now,
            customer,
            amount=licensed_amount(price, quantity),
            currency=price["currency"],
            description=params.get("description") or await billing.product_name(records, price),
            period=(period["start"], period["end"]),
            quantity=quantity,
            price_obj=price,
            subscription_id=params.get("subscription"),
            subscription_item_id=None,
            proration=False,
            metadata=params.get("metadata"),
        )
        await records.put(item)
        await records.emit("invoiceitem.created", objects.public(item), now)
    return respond(objects.public(item))


@router.get("/v1/invoiceitems")
async def list_invoice_items(request: Request) -> JSONResponse:
    params = await read_params(request, INVOICE_ITEM_LIST)
    async with open_records(request) as records:
        found = [
            i
            for i in await records.all("invoiceitem")
            if (params.get("customer") is None or i["customer"] == params["customer"])
            and (params.get("invoice") is None or i["invoice"] == params["invoice"])
            and (params.get("pending") is None or (i["invoice"] is None) == params["pending"])
        ]
    return respond(page(found, params, "/v1/invoiceitems", objects.public))


@router.get("/v1/invoiceitems/{item_id}")
async def retrieve_invoice_item(request: Request, item_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        item = await records.require("invoiceitem", item_id)
    return respond(objects.public(item))
