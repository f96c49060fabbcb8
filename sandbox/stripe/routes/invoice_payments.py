"""Invoice payments (`inpay_...`): which payment settled which invoice, listed per invoice.

Stripe creates them for payments it processes (a default one, tied to the invoice's PaymentIntent, when an invoice
is finalized) and for payment records attached to an invoice. The emulator processes no payments (no payment
intents, charges or payment records), so it creates none itself: an invoice paid with `paid_out_of_band` has no
paid invoice payment here, which is also how Stripe records a payment made outside it (*unverified*). The list and
retrieve endpoints answer over whatever invoice payments the store holds, so tests can put one in place.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.stripe import objects
from sandbox.stripe.params import EXPAND, Enum, Obj, Str, page_schema
from sandbox.stripe.routes.common import open_records, page, read_params, respond

router = APIRouter()

RETRIEVE = Obj({"expand": EXPAND})
LIST = page_schema(
    invoice=Str(),
    status=Enum(("canceled", "open", "paid")),
    payment=Obj(
        {"type": Enum(("payment_intent", "payment_record")), "payment_intent": Str(), "payment_record": Str()},
        required=("type",),
    ),
)


@router.get("/v1/invoice_payments")
async def list_invoice_payments(request: Request) -> JSONResponse:
    params = await read_params(request, LIST)
    wanted = params.get("payment") or {}
    async with open_records(request) as records:
        found = [
            p
            for p in await records.all("invoice_payment")
            if (params.get("invoice") is None or p["invoice"] == params["invoice"])
            and (params.get("status") is None or p["status"] == params["status"])
            and all(p["payment"].get(key) == value for key, value in wanted.items() if value is not None)
        ]
    return respond(page(found, params, "/v1/invoice_payments", objects.public))


@router.get("/v1/invoice_payments/{payment_id}")
async def retrieve_invoice_payment(request: Request, payment_id: str) -> JSONResponse:
    await read_params(request, RETRIEVE)
    async with open_records(request) as records:
        payment = await records.require("invoice_payment", payment_id)
    return respond(objects.public(payment))
