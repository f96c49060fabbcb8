"""HubSpot webhooks: a deal moved to a closed-won stage starts the closed-won saga.

HubSpot posts a JSON array of up to 100 events and signs it (signature v3) with the app's client secret:
`X-HubSpot-Signature-v3` is the base64 HMAC-SHA256 of method + URI + body + `X-HubSpot-Request-Timestamp`
(milliseconds since the epoch). The URI is the full one HubSpot called, so behind a proxy configure the target URL
as registered in the app (`hubspot_webhook_url`); HubSpot's documentation asks to decode a few percent-encoded
characters in it before signing (`_DECODED_IN_URI`). Timestamps more than 5 minutes away from our clock, in either
direction, are refused: an old one is a replay, and a future one would let a captured request be replayed later.

The event we act on is `deal.propertyChange` of `dealstage` to a configured closed-won stage ID (each pipeline has
its own; the default pipeline's is `closedwon`). The saga's ID derives from the deal ID, so HubSpot's retries and
repeated stage changes start nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from receiver.deliveries import (
    WINDOW_SECONDS,
    Forged,
    Malformed,
    Saga,
    SagaTrigger,
    Stale,
    Triggers,
    described,
    identifier,
    json_body,
)

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
DEAL_PROPERTY_CHANGE = "deal.propertyChange"
DEAL_STAGE = "dealstage"
_DECODED_IN_URI = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(_DECODED_IN_URI), re.IGNORECASE)
_MILLISECONDS = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class HubSpotDelivery:
    """The parts of a request that signature v3 covers, with the two headers as received (None if absent)."""

    method: str
    uri: str
    body: bytes
    signature: str | None
    timestamp: str | None


def hubspot_signature(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Signature v3 of a request, as HubSpot computes it."""
    uri = _ENCODED.sub(lambda encoded: _DECODED_IN_URI[encoded.group(0).upper()], uri)
    signed = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), signed, hashlib.sha256).digest()).decode()


def verify_hubspot_signature(delivery: HubSpotDelivery, client_secret: str, now: float) -> None:
    """Return if the delivery is signed with `client_secret` within 5 minutes of `now` (unix seconds); raise
    Malformed, Forged or Stale."""
    if not delivery.signature or delivery.timestamp is None:
        raise Malformed(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not _MILLISECONDS.fullmatch(delivery.timestamp):
        raise Malformed(f"{TIMESTAMP_HEADER} must be milliseconds since the epoch")
    expected = hubspot_signature(client_secret, delivery.method, delivery.uri, delivery.body, delivery.timestamp)
    if not hmac.compare_digest(expected.encode(), delivery.signature.encode()):
        raise Forged("signature does not verify")
    if abs(now * 1000 - int(delivery.timestamp)) > WINDOW_SECONDS * 1000:
        raise Stale(f"{TIMESTAMP_HEADER} is more than {WINDOW_SECONDS} s from now")


def hubspot_triggers(body: bytes, closed_won_stages: Collection[str]) -> Triggers:
    """A closed-won saga for each deal the batch moves to a closed-won stage; Malformed if it is not a batch."""
    events = json_body(body)
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise Malformed("body is not a JSON array of events")
    starts: list[SagaTrigger] = []
    ignored: list[str] = []
    for event in events:
        if _closes_a_deal(event, closed_won_stages):
            deal = identifier(event.get("objectId"), "objectId", numbers=True)
            event_id = identifier(event.get("eventId"), "eventId", numbers=True)
            starts.append(SagaTrigger(Saga.CLOSED_WON, deal, event_id))
        else:
            ignored.append(described(event.get("eventId"), event.get("subscriptionType")))
    return Triggers(tuple(starts), tuple(ignored))


def _closes_a_deal(event: dict[str, Any], closed_won_stages: Collection[str]) -> bool:
    return (
        event.get("subscriptionType") == DEAL_PROPERTY_CHANGE
        and event.get("propertyName") == DEAL_STAGE
        and isinstance(stage := event.get("propertyValue"), str)
        and stage in closed_won_stages
    )
