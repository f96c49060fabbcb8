"""The pure parts of the receiver: signature checks, event parsing, the body limit and the settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

import pytest
import stripe
from pydantic import ValidationError
from starlette.requests import Request

from receiver.deliveries import (
    Forged,
    Malformed,
    Saga,
    SagaTrigger,
    Stale,
    TooLarge,
    Triggers,
    read_body,
)
from receiver.hubspot_webhooks import HubSpotDelivery, hubspot_signature, hubspot_triggers, verify_hubspot_signature
from receiver.signed_events import q2c_signature_header, signed_event_triggers, verify_q2c_signature
from receiver.stripe_webhooks import stripe_triggers, verify_stripe_signature
from tests.receiver.schemes import hubspot_batch, hubspot_event, receiver_settings, stripe_event

NOW = 1_780_000_000.0  # HubSpot's and the generic checks take the clock as an argument; Stripe's library reads it
BODY = b'{"id": "evt_1"}'

# --- Stripe


def _stripe_header(secret: str, at: float, body: bytes = BODY) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, int(at))
    return header


def test_a_stripe_signature_verifies_under_any_configured_secret() -> None:
    verify_stripe_signature(BODY, _stripe_header("whsec_new", time.time()), ["whsec_old", "whsec_new"])
    verify_stripe_signature(BODY, _stripe_header("whsec_old", time.time()), ["whsec_old", "whsec_new"])


def test_a_stripe_header_with_several_v1_entries_verifies_if_one_does() -> None:
    header = _stripe_header("whsec_new", time.time())
    verify_stripe_signature(BODY, header.replace(",v1=", ",v1=" + "0" * 64 + ",v1="), ["whsec_new"])


@pytest.mark.parametrize(
    ("body", "header", "refusal"),
    [
        (BODY, None, Malformed),
        (BODY, "", Malformed),
        (BODY + b" ", "signed", Forged),
        (BODY, "other secret", Forged),
        (BODY, "t=abc,v1=00", Forged),
        (BODY, "t=1,v1=é", Forged),  # compare_digest refuses non-ASCII text: still only "does not verify"
        (b"\xff\xfe", "signed", Forged),  # not UTF-8: the library cannot even decode it
        (BODY, "stale", Stale),
    ],
)
def test_stripe_signatures_that_do_not_verify(body: bytes, header: str | None, refusal: type[Exception]) -> None:
    headers = {
        "signed": _stripe_header("whsec_a", time.time()),
        "other secret": _stripe_header("whsec_b", time.time()),
        "stale": _stripe_header("whsec_a", time.time() - 301),
    }
    with pytest.raises(refusal):
        verify_stripe_signature(body, headers.get(header or "", header), ["whsec_a"])


@pytest.mark.parametrize(
    ("kind", "stripe_object", "saga"),
    [
        ("invoice.finalized", "invoice", Saga.INVOICE_TO_REVENUE),
        ("credit_note.created", "credit_note", Saga.INVOICE_TO_REVENUE),
        ("invoice.paid", "invoice", Saga.PAYMENT_SETTLED),
    ],
)
def test_stripe_events_that_start_sagas(kind: str, stripe_object: str, saga: Saga) -> None:
    triggers = stripe_triggers(stripe_event(kind, "in_1Abc", stripe_object))

    assert [(t.saga, t.object_id) for t in triggers.starts] == [(saga, "in_1Abc")]
    assert triggers.ignored == ()


def test_other_stripe_events_are_ignored_whatever_they_carry() -> None:
    body = json.dumps({"object": "event", "id": "evt_9", "type": "customer.created", "data": None}).encode()

    assert stripe_triggers(body) == Triggers(ignored=("'evt_9' ('customer.created')",))


# --- HubSpot


def _hubspot_delivery(signature: str | None = None, timestamp: str | None = None, **changes: Any) -> HubSpotDelivery:
    delivery = HubSpotDelivery("POST", "https://q2c.example.com/hubspot/webhooks", b"[]", None, str(int(NOW * 1000)))
    delivery = HubSpotDelivery(**{**delivery.__dict__, "timestamp": timestamp or delivery.timestamp, **changes})
    signed = _hubspot_signature("secret", delivery)
    return HubSpotDelivery(**{**delivery.__dict__, "signature": signature if signature is not None else signed})


def _hubspot_signature(secret: str, delivery: HubSpotDelivery) -> str:
    """Written from HubSpot's documentation, independently of the receiver's code."""
    assert delivery.timestamp is not None
    source = f"{delivery.method}{delivery.uri}".encode() + delivery.body + delivery.timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def test_a_hubspot_signature_v3_verifies() -> None:
    delivery = _hubspot_delivery()

    verify_hubspot_signature(delivery, "secret", NOW)
    assert hubspot_signature("secret", delivery.method, delivery.uri, delivery.body, "1") == _hubspot_signature(
        "secret", HubSpotDelivery("POST", delivery.uri, b"[]", None, "1")
    )


def test_hubspot_signs_its_uri_with_some_percent_encoded_characters_decoded() -> None:
    signed_uri = "https://q2c.example.com/hubspot/webhooks?tenant=acme:eu&tags=(a,b)"
    received_uri = "https://q2c.example.com/hubspot/webhooks?tenant=acme%3Aeu&tags=%28a%2cb%29"
    delivery = _hubspot_delivery(uri=signed_uri)

    verify_hubspot_signature(HubSpotDelivery(**{**delivery.__dict__, "uri": received_uri}), "secret", NOW)


@pytest.mark.parametrize("offset_seconds", [-300, 0, 300])
def test_a_hubspot_timestamp_within_five_minutes_either_way_is_accepted(offset_seconds: int) -> None:
    verify_hubspot_signature(_hubspot_delivery(timestamp=str(int((NOW + offset_seconds) * 1000))), "secret", NOW)


@pytest.mark.parametrize(
    ("delivery", "refusal"),
    [
        (_hubspot_delivery(timestamp=str(int((NOW - 300.001) * 1000))), Stale),
        (_hubspot_delivery(timestamp=str(int((NOW + 300.001) * 1000))), Stale),
        (_hubspot_delivery(signature="x" + "=" * 43), Forged),
        (_hubspot_delivery(signature="ümlaut"), Forged),
        (_hubspot_delivery(signature=""), Malformed),
        (HubSpotDelivery("POST", "https://q2c.example.com/", b"[]", "sig", None), Malformed),
        (_hubspot_delivery(timestamp="1.7e12"), Malformed),
        (_hubspot_delivery(timestamp="1" * 16), Malformed),
    ],
    ids=["old", "ahead", "forged", "non-ascii", "no signature", "no timestamp", "float", "huge"],
)
def test_hubspot_deliveries_that_do_not_verify(delivery: HubSpotDelivery, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        verify_hubspot_signature(delivery, "secret", NOW)


def test_a_hubspot_signature_for_another_method_or_uri_does_not_verify() -> None:
    delivery = _hubspot_delivery()
    for changed in ({"method": "PUT"}, {"uri": delivery.uri + "/"}, {"body": b"[ ]"}):
        with pytest.raises(Forged):
            verify_hubspot_signature(HubSpotDelivery(**{**delivery.__dict__, **changed}), "secret", NOW)


def test_hubspot_deals_moved_to_any_configured_closed_won_stage_start_sagas() -> None:
    body = hubspot_batch(
        hubspot_event("101", stage="closedwon", eventId=1),
        hubspot_event("102", stage="94567", eventId=2),  # a custom pipeline's closed-won stage
        hubspot_event("103", stage="closedlost", eventId=3),
        hubspot_event("104", propertyValue=["closedwon"], eventId=4),
    )

    triggers = hubspot_triggers(body, ("closedwon", "94567"))

    assert triggers.starts == (
        SagaTrigger(Saga.CLOSED_WON, "101", "1"),
        SagaTrigger(Saga.CLOSED_WON, "102", "2"),
    )
    assert len(triggers.ignored) == 2


# --- generic signed events


def test_a_q2c_signature_verifies_under_any_secret_and_any_v1_entry() -> None:
    header = q2c_signature_header(BODY, "new", int(NOW))
    rolled = header.replace("v1=", "v1=" + "a" * 64 + ", v1=")  # the sender signs with old and new secrets

    verify_q2c_signature(BODY, header, ["old", "new"], NOW)
    verify_q2c_signature(BODY, rolled, ["new"], NOW)
    verify_q2c_signature(BODY, header.upper().replace("T=", "t=").replace("V1=", "v1="), ["new"], NOW)


def test_the_q2c_signature_is_stripes_scheme() -> None:
    """Any Stripe-style signer (here stripe-python's) produces a header the generic endpoint accepts."""
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), "source-secret", int(NOW))

    verify_q2c_signature(BODY, header, ["source-secret"], NOW)


@pytest.mark.parametrize(
    ("header", "at", "refusal"),
    [
        ("signed", NOW - 301, Stale),
        ("signed", NOW + 301, Stale),
        ("other secret", NOW, Forged),
        (None, NOW, Malformed),
        ("t=1780000000", NOW, Malformed),
        ("t=1780000000,v1=" + "g" * 64, NOW, Malformed),
        ("t=-1780000000,v1=" + "0" * 64, NOW, Malformed),
    ],
)
def test_q2c_signatures_that_do_not_verify(header: str | None, at: float, refusal: type[Exception]) -> None:
    headers = {
        "signed": q2c_signature_header(BODY, "secret", int(NOW)),
        "other secret": q2c_signature_header(BODY, "x", int(NOW)),
    }
    with pytest.raises(refusal):
        verify_q2c_signature(BODY, headers.get(header or "", header), ["secret"], at)


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        ({"event_id": "e1", "type": "invoice.finalized", "object_id": "in_1"}, (Saga.INVOICE_TO_REVENUE, "in_1")),
        ({"event_id": "e2", "type": "credit_note.created", "object_id": "cn_1"}, (Saga.INVOICE_TO_REVENUE, "cn_1")),
        ({"event_id": "e3", "type": "invoice.paid", "object_id": "in_1", "extra": 1}, (Saga.PAYMENT_SETTLED, "in_1")),
        ({"event_id": "e4", "type": "opportunity.closed_won", "object_id": "42"}, (Saga.CLOSED_WON, "42")),
        (
            {"event_id": "e5", "type": "opportunity.closed_won", "object_id": "006NW0000000001AAQ"},
            (Saga.CLOSED_WON, "006NW0000000001"),
        ),
    ],
)
def test_signed_events_that_start_sagas(event: dict[str, Any], trigger: tuple[Saga, str]) -> None:
    [start] = signed_event_triggers(json.dumps(event).encode()).starts

    assert (start.saga, start.object_id) == trigger


# --- the body limit


def _request(chunks: Iterable[bytes], content_length: str | None = None) -> Request:
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    headers = [] if content_length is None else [(b"content-length", content_length.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    assert await read_body(_request([b"ab", b"cd"], "4"), limit=4) == b"abcd"
    assert await read_body(_request([b"ab", b"cd"]), limit=4) == b"abcd"


@pytest.mark.parametrize(
    ("chunks", "content_length", "refusal"),
    [
        ([b"abcde"], "5", TooLarge),  # declared too large: refused before reading
        ([b"ab", b"cd", b"e"], None, TooLarge),  # chunked: refused while reading
        ([b"ab", b"cd", b"e"], "2", TooLarge),  # a Content-Length that lies
        ([b"ab"], "two", Malformed),
        ([b"ab"], "²", Malformed),
        ([b"ab"], "9" * 40, Malformed),
    ],
)
async def test_a_body_over_the_limit_is_refused(
    chunks: list[bytes], content_length: str | None, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await read_body(_request(chunks, content_length), limit=4)


# --- settings


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = receiver_settings()

    assert "whsec_" not in repr(settings) and "hubspot-app-client-secret" not in repr(settings)


@pytest.mark.parametrize(
    "change",
    [
        {"stripe_webhook_secrets": ("whsec_a", " ")},
        {"hubspot_client_secret": ""},
        {"event_source_secrets": {"erp": ()}},
        {"event_source_secrets": {"erp/../x": ("s",)}},
        {"event_source_secrets": {"erp": ("",)}},
        {"hubspot_closed_won_stages": ()},
    ],
)
def test_unusable_settings_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        receiver_settings(**change)
