"""Forged, stale, replayed, malformed and oversized deliveries are refused with a short reason and start nothing;
an unconfigured scheme answers 404 and a Temporal outage 503. Real HTTP throughout."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from canonical.saga_policy import SagaPolicy
from receiver.deliveries import MAX_BODY_BYTES
from tests.receiver.conftest import LiveReceiver, Receiver, RefusingTemporal, serving
from tests.receiver.schemes import (
    HUBSPOT,
    HUBSPOT_SECRET,
    SCHEMES,
    SIGNED_EVENTS,
    STRIPE,
    STRIPE_SECRET,
    Scheme,
    receiver_settings,
)

SCHEME_IDS = [s.name for s in SCHEMES]
# A body of the right shape for each scheme that is wrong all the same.
WRONG_SHAPES: dict[str, list[Any]] = {
    "stripe": [
        [],
        {"object": "event", "id": "evt_1", "type": "invoice.paid", "data": {}},
        {"object": "event", "id": "evt_1", "type": "invoice.paid", "data": {"object": {"object": "customer"}}},
        {"object": "event", "id": "evt_1", "type": "invoice.finalized", "data": {"object": {"object": "invoice"}}},
        {"object": "event", "id": 7, "type": "invoice.paid", "data": {"object": {"object": "invoice", "id": "in_1"}}},
        {"object": "event", "id": "evt_1", "type": "invoice.paid", "data": {"object": {"object": "invoice", "id": 7}}},
        {"object": "invoice", "id": "in_1"},
    ],
    "hubspot": [
        {"objectId": 1},
        [1, 2],
        [{"subscriptionType": "deal.propertyChange", "propertyName": "dealstage", "propertyValue": "closedwon"}],
        [
            {
                "eventId": 1,
                "subscriptionType": "deal.propertyChange",
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "objectId": "12; DROP TABLE deals",
            }
        ],
    ],
    "signed-events": [
        [],
        {"event_id": "e1", "type": "invoice.voided", "object_id": "in_1"},
        {"event_id": "e1", "type": "invoice.paid"},
        {"event_id": "e1", "type": "invoice.paid", "object_id": "in 1"},
        {"event_id": "e1", "type": "invoice.paid", "object_id": "x" * 256},
        {"type": "invoice.paid", "object_id": "in_1"},
        {"event_id": "e1", "type": ["invoice.paid"], "object_id": "in_1"},
    ],
}
WRONG_SHAPE_CASES = [(s, shape) for s in SCHEMES for shape in WRONG_SHAPES[s.name]]


@pytest.fixture(autouse=True)
def _nothing_reaches_temporal(refusing_temporal: RefusingTemporal) -> Any:
    yield
    assert refusing_temporal.calls == 0


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_delivery_signed_with_another_secret_is_refused(refusing_receiver: Receiver, scheme: Scheme) -> None:
    body, _ = scheme.genuine()

    answer = await refusing_receiver.deliver(scheme, body, secret=scheme.secret + "-guessed")

    assert (answer.status_code, answer.text) == (401, "signature does not verify")


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_tampered_body_is_refused(refusing_receiver: Receiver, scheme: Scheme) -> None:
    body, _ = scheme.genuine()
    other_body, _ = scheme.genuine()
    headers = scheme.sign(refusing_receiver.url + scheme.path, body)

    answer = await refusing_receiver.http.post(scheme.path, content=other_body, headers=headers)

    assert (answer.status_code, answer.text) == (401, "signature does not verify")


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_delivery_signed_more_than_five_minutes_ago_is_refused(
    refusing_receiver: Receiver, scheme: Scheme
) -> None:
    body, _ = scheme.genuine()

    answer = await refusing_receiver.deliver(scheme, body, at=time.time() - 301)

    assert answer.status_code == 401
    assert "300 s" in answer.text


@pytest.mark.parametrize("scheme", [HUBSPOT, SIGNED_EVENTS], ids=["hubspot", "signed-events"])
async def test_a_delivery_signed_more_than_five_minutes_ahead_is_refused(
    refusing_receiver: Receiver, scheme: Scheme
) -> None:
    """Else a captured request could be replayed for as long as its timestamp lies ahead. (Stripe's library only
    refuses old timestamps, and the Stripe endpoint follows it.)"""
    body, _ = scheme.genuine()

    answer = await refusing_receiver.deliver(scheme, body, at=time.time() + 301)

    assert answer.status_code == 401
    assert "300 s" in answer.text


async def test_a_genuine_delivery_replayed_after_the_window_is_refused(live_receiver: LiveReceiver) -> None:
    """Each scheme's delivery is signed 298 s ago: accepted now, refused when replayed byte for byte 2.5 s later."""
    signed_at = int(time.time()) - 298
    deliveries = []
    for scheme in SCHEMES:
        body, expected = scheme.genuine()
        deliveries.append((scheme, body, scheme.sign(live_receiver.url + scheme.path, body, at=signed_at), expected))
    for scheme, body, headers, expected in deliveries:
        answer = await live_receiver.http.post(scheme.path, content=body, headers=headers)
        assert answer.status_code == 200, (scheme.name, answer.text)
        await live_receiver.assert_started_once(expected)

    await asyncio.sleep(2.5)
    replays = [await live_receiver.http.post(s.path, content=body, headers=h) for s, body, h, _ in deliveries]

    assert [r.status_code for r in replays] == [401, 401, 401]
    assert all("300 s" in r.text for r in replays)


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_delivery_without_its_signature_headers_is_malformed(
    refusing_receiver: Receiver, scheme: Scheme
) -> None:
    body, _ = scheme.genuine()

    answer = await refusing_receiver.http.post(scheme.path, content=body)

    assert answer.status_code == 400
    assert answer.text.startswith("missing ")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-HubSpot-Signature-v3": "c2ln", "X-HubSpot-Request-Timestamp": "yesterday"}, "must be milliseconds"),
        ({"X-HubSpot-Signature-v3": "", "X-HubSpot-Request-Timestamp": "1700000000000"}, "missing "),
        ({"X-Q2C-Signature": "t=1700000000"}, "needs v1="),
        ({"X-Q2C-Signature": "v1=" + "0" * 64}, "needs one t="),
        ({"X-Q2C-Signature": "t=1700000000,v1=nothex"}, "needs v1="),
        ({"X-Q2C-Signature": "t=1,t=2,v1=" + "0" * 64}, "needs one t="),
    ],
)
async def test_garbled_signature_headers_are_malformed(
    refusing_receiver: Receiver, headers: dict[str, str], reason: str
) -> None:
    path = HUBSPOT.path if any(name.startswith("X-HubSpot") for name in headers) else SIGNED_EVENTS.path

    answer = await refusing_receiver.http.post(path, content=b"[]", headers=headers)

    assert answer.status_code == 400
    assert reason in answer.text


async def test_a_garbled_stripe_signature_header_does_not_verify(refusing_receiver: Receiver) -> None:
    for header in ("t=,v1=", "nonsense", "t=1700000000,v0=abc", "t=9999999999999999999999,v1=ab"):
        answer = await refusing_receiver.http.post(STRIPE.path, content=b"{}", headers={"Stripe-Signature": header})
        assert (answer.status_code, answer.text) == (401, "signature does not verify"), header


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
@pytest.mark.parametrize(
    "body", [b"", b"{not json", b"\xff\xfe\x00garbage", b"[" * 100_000, b"1" * 5000], ids=lambda b: repr(b[:12])
)
async def test_a_signed_body_that_is_not_json_is_malformed(
    refusing_receiver: Receiver, scheme: Scheme, body: bytes
) -> None:
    answer = await refusing_receiver.deliver(scheme, body)

    assert answer.status_code in (400, 401)  # Stripe's library refuses a body that is not UTF-8 as unsigned
    assert answer.text in ("body is not JSON", "signature does not verify")
    if body.isascii():
        assert (answer.status_code, answer.text) == (400, "body is not JSON")


@pytest.mark.parametrize(("scheme", "shape"), WRONG_SHAPE_CASES, ids=[s.name for s, _ in WRONG_SHAPE_CASES])
async def test_a_signed_body_of_the_wrong_shape_is_malformed(
    refusing_receiver: Receiver, scheme: Scheme, shape: Any
) -> None:
    answer = await refusing_receiver.deliver(scheme, json.dumps(shape).encode())

    assert answer.status_code == 400, answer.text
    assert len(answer.text) < 120


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_body_over_1_mib_is_refused_by_its_content_length(refusing_receiver: Receiver, scheme: Scheme) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)

    answer = await refusing_receiver.deliver(scheme, body)

    assert (answer.status_code, answer.text) == (413, f"body exceeds {MAX_BODY_BYTES} bytes")


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_chunked_body_over_1_mib_is_refused_while_reading(refusing_receiver: Receiver, scheme: Scheme) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the receiver must count
        for _ in range(40):
            yield b" " * 65_536

    answer = await refusing_receiver.http.post(scheme.path, content=chunks(), headers=scheme.sign("", b""))

    assert (answer.status_code, answer.text) == (413, f"body exceeds {MAX_BODY_BYTES} bytes")


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
async def test_a_body_of_exactly_1_mib_is_read_and_judged(refusing_receiver: Receiver, scheme: Scheme) -> None:
    answer = await refusing_receiver.deliver(scheme, b" " * MAX_BODY_BYTES)

    assert (answer.status_code, answer.text) == (400, "body is not JSON")


@pytest.mark.parametrize(
    ("path", "unconfigured", "reason"),
    [
        (STRIPE.path, {"stripe_webhook_secrets": ()}, "stripe webhooks not configured"),
        (HUBSPOT.path, {"hubspot_client_secret": None}, "hubspot webhooks not configured"),
        (SIGNED_EVENTS.path, {"event_source_secrets": {}}, "event source not configured"),
        ("/events/unknown-source", {}, "event source not configured"),
    ],
)
async def test_an_endpoint_without_its_secret_answers_404(
    refusing_temporal: RefusingTemporal, fast_policy: SagaPolicy, path: str, unconfigured: dict[str, Any], reason: str
) -> None:
    async with serving(refusing_temporal, receiver_settings(**unconfigured), fast_policy) as receiver:
        answer = await receiver.http.post(path, content=b"{}")

    assert (answer.status_code, answer.text) == (404, reason)


class UnavailableTemporal:
    """A Temporal client whose frontend answers UNAVAILABLE, as during a restart."""

    async def start_workflow(self, *args: object, **kwargs: object) -> None:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")


@pytest.mark.parametrize("scheme", SCHEMES, ids=SCHEME_IDS)
@pytest.mark.parametrize("outage", ["no connection", "rpc unavailable"])
async def test_a_temporal_outage_answers_503_so_the_sender_retries(
    fast_policy: SagaPolicy, scheme: Scheme, outage: str
) -> None:
    async def temporal() -> Client:
        if outage == "no connection":
            raise RuntimeError("Failed client connect: cannot reach 127.0.0.1:7233")
        return UnavailableTemporal()  # type: ignore[return-value]

    async with serving(temporal, receiver_settings(), fast_policy) as receiver:
        body, _ = scheme.genuine()
        answer = await receiver.deliver(scheme, body)

    assert (answer.status_code, answer.text) == (503, "temporal unavailable, retry later")


async def test_refusals_are_logged_without_secrets_or_bodies(
    refusing_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "BODY-MARKER-7f3a"
    body = json.dumps({"event_id": marker, "type": "nope", "object_id": marker}).encode()
    with caplog.at_level(logging.DEBUG, logger="q2c.receiver"):
        for scheme in SCHEMES:
            await refusing_receiver.deliver(scheme, body)
            await refusing_receiver.deliver(scheme, body, secret="wrong")
            await refusing_receiver.deliver(scheme, body, at=time.time() - 1000)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("refused POST") == 9
    for secret in (STRIPE_SECRET, HUBSPOT_SECRET, SIGNED_EVENTS.secret, marker):
        assert secret not in logged
