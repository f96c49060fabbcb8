"""Stripe webhooks: `invoice.finalized` and `credit_note.created` start invoice → revenue, `invoice.paid` starts
payment-settled; every other event type is acknowledged and ignored.

Stripe signs each delivery with `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` keyed with
the endpoint's secret; the official library checks it, with Stripe's 300-second tolerance for old timestamps.
Several secrets may be configured, so a secret can be rolled without refusing deliveries in between. Stripe
delivers at least once and out of order; the workflow IDs derive from the invoice or credit note, so a redelivery
starts nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import stripe

from receiver.deliveries import (
    SAGA_FOR_EVENT,
    WINDOW_SECONDS,
    Forged,
    Malformed,
    SagaTrigger,
    Stale,
    Triggers,
    described,
    identifier,
    json_body,
)

SIGNATURE_HEADER = "Stripe-Signature"
# The Stripe object each event we act on carries.
STRIPE_OBJECT_FOR_EVENT = {
    "invoice.finalized": "invoice",
    "credit_note.created": "credit_note",
    "invoice.paid": "invoice",
}


def verify_stripe_signature(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Return if `header` signs `body` with one of `secrets` within the tolerance; raise Malformed, Forged or Stale."""
    if not header:
        raise Malformed(f"missing {SIGNATURE_HEADER} header")
    if any(_verifies(body, header, secret, WINDOW_SECONDS) for secret in secrets):
        return
    # Telling "stale" from "forged" helps whoever debugs a clock or a replay; it reveals nothing to a forger,
    # who cannot produce a signature that verifies at all.
    if any(_verifies(body, header, secret, None) for secret in secrets):
        raise Stale(f"signature timestamp is more than {WINDOW_SECONDS} s old")
    raise Forged("signature does not verify")


def _verifies(body: bytes, header: str, secret: str, tolerance: int | None) -> bool:
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance)
    # The library raises SignatureVerificationError for what it checks, but a body that is not UTF-8 fails its
    # decode (UnicodeDecodeError, a ValueError) and a non-ASCII signature fails hmac.compare_digest (TypeError).
    except (stripe.SignatureVerificationError, ValueError, TypeError):
        return False
    return True


def stripe_triggers(body: bytes) -> Triggers:
    """The saga a verified Stripe event starts, if any; Malformed when the event is not shaped like Stripe's."""
    event = json_body(body)
    if not isinstance(event, dict) or event.get("object") != "event":
        raise Malformed("body is not a Stripe event")
    event_id = identifier(event.get("id"), "event id")
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise Malformed("event type must be a string")
    expected_object = STRIPE_OBJECT_FOR_EVENT.get(event_type)
    if expected_object is None:
        return Triggers(ignored=(described(event_id, event_type),))
    document = _data_object(event)
    if document.get("object") != expected_object:
        raise Malformed(f"{event_type} must carry a data.object of type {expected_object}")
    document_id = identifier(document.get("id"), f"{expected_object} id")
    return Triggers(starts=(SagaTrigger(SAGA_FOR_EVENT[event_type], document_id, event_id),))


def _data_object(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data")
    document = data.get("object") if isinstance(data, dict) else None
    if not isinstance(document, dict):
        raise Malformed("event has no data.object")
    return document
