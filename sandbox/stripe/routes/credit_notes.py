"""Credit notes: they first reduce what an open invoice still asks for (`pre_payment_amount`); the rest, and all
of one on a paid invoice, credits the customer's balance or records a refund made elsewhere (`post_payment_amount`:
`credit_amount`, `out_of_band_amount`), up to the invoice's total less the credit notes already issued for it.
Lines keep their own metadata; a note's lines page through `/v1/credit_notes/{id}/lines`; an update changes only
`memo` and `metadata`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import billing, objects
from sandbox.stripe.errors import invalid, missing_param
from sandbox.stripe.ids import new_id
from sandbox.stripe.params import EXPAND, Arr, Enum, Int, Metadata, Obj, Str, page_schema
from sandbox.stripe.routes.common import merged_metadata, open_records, page, read_params, respond

router = APIRouter()

RETRIEVE = Obj({"expand": EXPAND})
CREDIT_LINE = Obj(
    {
        "type": Enum(("custom_line_item", "invoice_line_item")),
        "invoice_line_item": Str(),
        "quantity": Int(minimum=0),
        "amount": Int(minimum=0),
        "unit_amount": Int(minimum=0),
        "description": Str(),
        "metadata": Metadata(),
    },
    required=("type",),
)
CREDIT_NOTE = Obj(
    {
        "invoice": Str(),
        "lines": Arr(CREDIT_LINE),
        "amount": Int(minimum=0),
        "credit_amount": Int(minimum=0),
        "out_of_band_amount": Int(minimum=0),
        "refund_amount": Int(minimum=0),
        "reason": Enum(("duplicate", "fraudulent", "order_change", "product_unsatisfactory")),
        "memo": Str(),
        "metadata": Metadata(),
        "effective_at": Int(),
        "expand": EXPAND,
    },
    required=("invoice",),
)
CREDIT_NOTE_LIST = page_schema(customer=Str(), invoice=Str())
CREDIT_NOTE_UPDATE = Obj({"memo": Str(), "metadata": Metadata(), "expand": EXPAND})
LINES = Obj({"limit": Int(minimum=1), "starting_after": Str(), "ending_before": Str(), "expand": EXPAND})


@router.post("/v1/credit_notes")
async def create_credit_note(request: Request) -> JSONResponse:
    params = await read_params(request, CREDIT_NOTE)
    async with open_records(request) as records:
        invoice = await records.require("invoice", params["invoice"], "invoice")
        if invoice["status"] not in ("open", "paid"):
            raise invalid("Credit notes can only be created for open or paid invoices.", "invoice")
        now = await records.customer_now(invoice["customer"])
        note_id = new_id("credit_note")
        lines = _credit_lines(invoice, params)
        amount = sum(line["amount"] for line in lines) if lines else params.get("amount")
        if amount is None:
            raise missing_param("lines")
        if params.get("amount") is not None and lines and params["amount"] != amount:
            raise invalid("The amount does not match the sum of the lines.", "amount")
        issued = [n for n in await records.all("credit_note", invoice=invoice["id"]) if n["status"] == "issued"]
        limit = invoice["total"] - sum(n["amount"] for n in issued)
        if amount <= 0 or amount > limit:
            raise invalid(f"The credit note amount ({amount}) must be above 0 and at most {limit}.", "amount")
        # A credit note first reduces what the invoice still asks for; the rest (post-payment) is refunded,
        # credited to the customer's balance or recorded as settled outside Stripe.
        pre_payment = min(amount, invoice["amount_remaining"]) if invoice["status"] == "open" else 0
        _check_post_payment(params, amount - pre_payment)
        customer = await records.require("customer", invoice["customer"])
        number = f"{invoice['number']}-CN-{len(await records.all('credit_note', invoice=invoice['id'])) + 1:02d}"
        if not lines:
            lines = [
                objects.credit_note_line(
                    new_id("credit_note_line_item"),
                    amount=amount,
                    description="Credit",
                    quantity=1,
                    invoice_line_item=None,
                    unit_amount=amount,
                )
            ]
        note = objects.credit_note(
            note_id, now, invoice, number=number, amount=amount, lines=lines, params=params, pre_payment=pre_payment
        )
        note["_credit_amount"] = params.get("credit_amount") or 0  # what voiding it takes back from the balance
        await records.put(note)
        if pre_payment:
            invoice["pre_payment_credit_notes_amount"] += pre_payment
            billing.update_totals(invoice)
        if amount > pre_payment:
            invoice["post_payment_credit_notes_amount"] += amount - pre_payment
        await records.put(invoice)
        if pre_payment and invoice["amount_remaining"] == 0:
            await billing.mark_paid(records, invoice, now)
        credit = params.get("credit_amount") or 0
        if credit:
            customer["balance"] -= credit
            await records.put(customer)
        await records.emit("credit_note.created", objects.public(note), now)
    return respond(objects.public(note))


def _credit_lines(invoice: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    by_id = {line["id"]: line for line in invoice["_lines"]}
    for index, line in enumerate(params.get("lines") or []):
        if line["type"] == "invoice_line_item":
            source = by_id.get(line.get("invoice_line_item") or "")
            if source is None:
                raise invalid(
                    f"No such invoice line item: '{line.get('invoice_line_item')}'",
                    f"lines[{index}][invoice_line_item]",
                    "resource_missing",
                )
            amount = line.get("amount")
            if amount is None:
                quantity = line.get("quantity") or source.get("quantity") or 1
                amount = round(source["amount"] * quantity / (source.get("quantity") or 1))
            if amount > source["amount"]:
                raise invalid("The credit amount exceeds the line's amount.", f"lines[{index}][amount]")
            lines.append(
                objects.credit_note_line(
                    new_id("credit_note_line_item"),
                    amount=amount,
                    description=source["description"],
                    quantity=line.get("quantity"),
                    invoice_line_item=source["id"],
                    unit_amount=None,
                    metadata=line.get("metadata"),
                )
            )
        else:
            if line.get("unit_amount") is None:
                raise missing_param(f"lines[{index}][unit_amount]")
            quantity = line.get("quantity") or 1
            lines.append(
                objects.credit_note_line(
                    new_id("credit_note_line_item"),
                    amount=line["unit_amount"] * quantity,
                    description=line.get("description") or "Credit",
                    quantity=quantity,
                    invoice_line_item=None,
                    unit_amount=line["unit_amount"],
                    metadata=line.get("metadata"),
                )
            )
    return lines


def _check_post_payment(params: dict[str, Any], post_payment: int) -> None:
    parts = (params.get("credit_amount") or 0) + (params.get("out_of_band_amount") or 0)
    parts += params.get("refund_amount") or 0
    if parts != post_payment:
        raise invalid(
            f"The part of the credit note beyond what the invoice still asks for ({post_payment}) must be split "
            "into credit_amount, refund_amount and out_of_band_amount that add up to it.",
            "credit_amount",
        )
    if params.get("refund_amount"):
        raise invalid("Refunds are not emulated: use credit_amount or out_of_band_amount.", "refund_amount")


@router.get("/v1/credit_notes")
async def list_credit_notes(request: Request) -> JSONResponse:
    params = await read_params(request, CREDIT_NOTE_LIST)
    async with open_records(request) as records:
        found = [
            n
            for n in await records.all("credit_note")
            if (params.get("customer") is None or n["customer"] == params["customer"])
            and (params.get("invoice") is None or n["invoice"] == params["invoice"])
        ]
    return respond(page(found, params, "/v1/credit_notes", objects.public))


@router.get("/v1/credit_notes/{note_id}")
async def retrieve_credit_note(request: Request, note_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        note = await records.require("credit_note", note_id)
    return respond(objects.public(note))


@router.post("/v1/credit_notes/{note_id}")
async def update_credit_note(request: Request, note_id: str) -> JSONResponse:
    """Only `memo` and `metadata` can change, whatever the credit note's status."""
    params = await read_params(request, CREDIT_NOTE_UPDATE)
    async with open_records(request) as records:
        note = await records.require("credit_note", note_id)
        previous: dict[str, Any] = {}
        if "memo" in params:
            previous["memo"] = note["memo"]
            note["memo"] = params["memo"]
        if "metadata" in params:
            previous["metadata"] = note["metadata"]
            note["metadata"] = merged_metadata(note["metadata"], params["metadata"])
        await records.put(note)
        await records.emit(
            "credit_note.updated", objects.public(note), await records.customer_now(note["customer"]), previous
        )
    return respond(objects.public(note))


@router.get("/v1/credit_notes/{note_id}/lines")
async def credit_note_lines(request: Request, note_id: str) -> JSONResponse:
    params = await read_params(request, LINES)
    async with open_records(request) as records:
        note = await records.require("credit_note", note_id)
    lines = list(reversed(note["lines"]["data"]))  # page() lists newest first; lines keep the note's order
    return respond(page(lines, params, f"/v1/credit_notes/{note_id}/lines", objects.public))


@router.post("/v1/credit_notes/{note_id}/void")
async def void_credit_note(request: Request, note_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        note = await records.require("credit_note", note_id)
        if note["status"] != "issued":
            raise invalid("This credit note is already void.")
        invoice = await records.require("invoice", note["invoice"])
        if note["pre_payment_amount"]:
            if invoice["status"] != "open":
                raise invalid("A pre-payment credit note can only be voided while its invoice is open.")
            invoice["pre_payment_credit_notes_amount"] -= note["pre_payment_amount"]
            billing.update_totals(invoice)
        invoice["post_payment_credit_notes_amount"] -= note["post_payment_amount"]
        await records.put(invoice)
        if note.get("_credit_amount"):
            customer = await records.require("customer", note["customer"])
            customer["balance"] += note["_credit_amount"]
            await records.put(customer)
        now = await records.customer_now(note["customer"])
        note.update(status="void", voided_at=now)
        await records.put(note)
        await records.emit("credit_note.voided", objects.public(note), now)
    return respond(objects.public(note))
