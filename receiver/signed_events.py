"""Generic signed events, `POST /events/{source}`: for any system that can sign a small JSON document.

The scheme is Stripe's, so any Stripe-style signer works:

    X-Q2C-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

keyed with the source's secret (UTF-8). A sender rolling its secret may send several `v1=` entries, one per
secret; one that verifies is enough, and the receiver may likewise hold old and new secrets for a source.
Entries other than `t` and `v1` are ignored (room for later schemes). The timestamp must be within 300 seconds
of the receiver's clock, in either direction, so a captured request cannot be replayed later. The body is:

    {"event_id": "...", "type": "invoice.finalized" | "credit_note.created" | "invoice.paid"
                                | "opportunity.closed_won", "object_id": "..."}

`object_id` is the invoice or credit note ID in the billing platform, or the CRM opportunity ID (an 18-character
Salesforce ID is keyed on its 15-character form, as Outbound Messages are); IDs are 1-255 letters, digits, `_`,
`.`, `:` or `-`. Other fields are ignored. Delivery may be at least once: the saga's workflow ID derives from the
object, so a redelivery starts nothing new, and `event_id` only names the event in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.salesforce.ids import OPPORTUNITY_PREFIX, id15, is_record_id
from receiver.deliveries import (
    SAGA_FOR_EVENT,
    WINDOW_SECONDS,
    Forged,
    Malformed,
    Saga,
    SagaTrigger,
    Stale,
    Triggers,
    identifier,
    json_body,
)

SIGNATURE_HEADER = "X-Q2C-Signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # lower-case hex


def q2c_signature(body: bytes, secret: str, timestamp: int) -> str:
    """The `v1` signature of `body` sent at `timestamp`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def q2c_signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """The header a sender puts on `body` (for senders written in Python, and for tests)."""
    return f"t={timestamp},v1={q2c_signature(body, secret, timestamp)}"


def parse_signature_header(header: str | None) -> SignatureHeader:
    if not header:
        raise Malformed(f"missing {SIGNATURE_HEADER} header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise Malformed(f"{SIGNATURE_HEADER} needs one t=<unix seconds>")
    if not signatures or not all(_HEX_SHA256.fullmatch(s) for s in signatures):
        raise Malformed(f"{SIGNATURE_HEADER} needs v1=<64 hex digits>")
    return SignatureHeader(int(timestamps[0]), tuple(s.lower() for s in signatures))


def verify_q2c_signature(body: bytes, header: str | None, secrets: Sequence[str], now: float) -> None:
    """Return if `header` signs `body` with one of `secrets` within 300 s of `now` (unix seconds); raise Malformed,
    Forged or Stale."""
    parsed = parse_signature_header(header)
    expected = [q2c_signature(body, secret, parsed.timestamp) for secret in secrets]
    # Compare every pair, so the time taken does not tell which secret or entry came close.
    matches = [hmac.compare_digest(e, s) for e in expected for s in parsed.signatures]
    if not any(matches):
        raise Forged("signature does not verify")
    if abs(now - parsed.timestamp) > WINDOW_SECONDS:
        raise Stale(f"signature timestamp is more than {WINDOW_SECONDS} s from now")


def signed_event_triggers(body: bytes) -> Triggers:
    """The saga a verified event starts; Malformed unless the body is the documented object."""
    event = json_body(body)
    if not isinstance(event, dict):
        raise Malformed("body is not a JSON object")
    event_id = identifier(event.get("event_id"), "event_id")
    event_type = event.get("type")
    saga = SAGA_FOR_EVENT.get(event_type) if isinstance(event_type, str) else None
    if saga is None:
        raise Malformed(f"type must be one of {', '.join(SAGA_FOR_EVENT)}")
    object_id = identifier(event.get("object_id"), "object_id")
    if saga is Saga.CLOSED_WON and len(object_id) == 18 and is_record_id(object_id, OPPORTUNITY_PREFIX):
        object_id = id15(object_id)
    return Triggers(starts=(SagaTrigger(saga, object_id, event_id),))
