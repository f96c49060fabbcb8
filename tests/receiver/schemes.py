"""The three signed webhook schemes as a sender sees them: bodies, signed headers and the saga each event starts.

Stripe's headers come from stripe-python's own `WebhookSignature.generate_signature_header`; HubSpot's and the
generic scheme's are computed here from their published definitions, independently of receiver/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from pydantic import BaseModel

from canonical.invoice_saga import InvoiceToRevenueInput, PaymentSettledInput
from canonical.saga import ClosedWonInput
from receiver.app import ReceiverSettings
from workflows.closed_won import workflow_id_for
from workflows.invoice_client import invoice_workflow_id, payment_workflow_id

STRIPE_SECRET = "whsec_q2c_test_current"
STRIPE_PREVIOUS_SECRET = "whsec_q2c_test_previous"  # still configured: the secret is being rolled
HUBSPOT_SECRET = "hubspot-app-client-secret-for-tests"
ERP_SECRET = "erp-source-secret-for-tests"
INVOICE_FINALIZED = "invoice.finalized"
CREDIT_NOTE_CREATED = "credit_note.created"
INVOICE_PAID = "invoice.paid"
OPPORTUNITY_CLOSED_WON = "opportunity.closed_won"


def receiver_settings(task_queue: str = "q2c", **changes: Any) -> ReceiverSettings:
    """Every scheme configured; `changes` overrides fields (e.g. a secret set to None to switch a scheme off)."""
    values: dict[str, Any] = {
        "salesforce_organization_id": "00DNW0000000001",
        "task_queue": task_queue,
        "stripe_webhook_secrets": (STRIPE_SECRET, STRIPE_PREVIOUS_SECRET),
        "hubspot_client_secret": HUBSPOT_SECRET,
        "event_source_secrets": {"erp": (ERP_SECRET,)},
    }
    return ReceiverSettings.model_validate(values | changes)


@dataclass(frozen=True)
class ExpectedSaga:
    workflow_id: str
    workflow_type: str
    input_type: type[BaseModel]
    object_field: str  # the input field naming the object
    object_id: str


def expected_saga(kind: str, object_id: str) -> ExpectedSaga:
    if kind in (INVOICE_FINALIZED, CREDIT_NOTE_CREATED):
        return ExpectedSaga(
            invoice_workflow_id(object_id), "InvoiceToRevenue", InvoiceToRevenueInput, "document_id", object_id
        )
    if kind == INVOICE_PAID:
        return ExpectedSaga(
            payment_workflow_id(object_id), "PaymentSettled", PaymentSettledInput, "invoice_id", object_id
        )
    return ExpectedSaga(
        workflow_id_for(object_id), "ClosedWonToSubscription", ClosedWonInput, "opportunity_id", object_id
    )


def new_object_id(kind: str, *, numeric: bool = False) -> str:
    """An ID no other test uses (the dev server is shared by the whole session)."""
    if numeric:
        return str(uuid.uuid4().int % 10**12 + 10**11)
    prefix = {INVOICE_FINALIZED: "in_", INVOICE_PAID: "in_", CREDIT_NOTE_CREATED: "cn_"}.get(kind, "006")
    return prefix + uuid.uuid4().hex[: 12 if prefix == "006" else 24]


# --- Stripe


def stripe_event(kind: str, object_id: str, stripe_object: str | None = None) -> bytes:
    stripe_object = stripe_object or ("credit_note" if kind == CREDIT_NOTE_CREATED else "invoice")
    event = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-06-24.dahlia",
        "created": int(time.time()),
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": {"id": object_id, "object": stripe_object, "status": "open"}},
    }
    return json.dumps(event).encode()


def stripe_headers(url: str, body: bytes, secret: str = STRIPE_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    try:
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)
    except UnicodeDecodeError:  # Stripe never sends such a body; sign its bytes as Stripe's scheme says
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        header = f"t={timestamp},v1={digest}"
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


# --- HubSpot


def hubspot_event(deal_id: str, stage: str = "closedwon", **changes: Any) -> dict[str, Any]:
    event = {
        "eventId": uuid.uuid4().int % 10**9,
        "subscriptionId": 2517403,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }
    return event | changes


def hubspot_batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


def hubspot_headers(url: str, body: bytes, secret: str = HUBSPOT_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int((time.time() if at is None else at) * 1000))
    signed = b"POST" + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


# --- generic signed events


def q2c_event(kind: str, object_id: str) -> bytes:
    return json.dumps({"event_id": f"erp-{uuid.uuid4()}", "type": kind, "object_id": object_id}).encode()


def q2c_headers(url: str, body: bytes, secret: str = ERP_SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Q2C-Signature": f"t={timestamp},v1={digest}", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Scheme:
    name: str
    path: str
    secret: str
    kinds: tuple[str, ...]  # the events it carries that start sagas
    event: Callable[[str, str], bytes]  # (kind, object id) -> body
    sign: Callable[..., dict[str, str]]  # (url, body, secret=..., at=...) -> headers
    numeric_ids: bool = False

    def genuine(self, kind: str | None = None) -> tuple[bytes, ExpectedSaga]:
        kind = kind or self.kinds[0]
        object_id = new_object_id(kind, numeric=self.numeric_ids)
        return self.event(kind, object_id), expected_saga(kind, object_id)


STRIPE = Scheme(
    "stripe",
    "/stripe/webhooks",
    STRIPE_SECRET,
    (INVOICE_FINALIZED, CREDIT_NOTE_CREATED, INVOICE_PAID),
    stripe_event,
    stripe_headers,
)
HUBSPOT = Scheme(
    "hubspot",
    "/hubspot/webhooks",
    HUBSPOT_SECRET,
    (OPPORTUNITY_CLOSED_WON,),
    lambda kind, deal: hubspot_batch(hubspot_event(deal)),
    hubspot_headers,
    numeric_ids=True,
)
SIGNED_EVENTS = Scheme(
    "signed-events",
    "/events/erp",
    ERP_SECRET,
    (INVOICE_FINALIZED, CREDIT_NOTE_CREATED, INVOICE_PAID, OPPORTUNITY_CLOSED_WON),
    q2c_event,
    q2c_headers,
)
SCHEMES = (STRIPE, HUBSPOT, SIGNED_EVENTS)
EVERY_KIND = [(scheme, kind) for scheme in SCHEMES for kind in scheme.kinds]
