"""Fuzzed bodies and headers never make the receiver fail (5xx) and never start a saga.

The app is driven in-process (httpx's ASGI transport), so headers can hold any byte a proxy might pass on; its
Temporal client factory fails the test if anything reaches for it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from receiver.app import create_receiver_app
from tests.receiver.conftest import RefusingTemporal
from tests.receiver.schemes import HUBSPOT, SCHEMES, SIGNED_EVENTS, STRIPE, Scheme, receiver_settings
from workers.config_files import load_saga_policy

BASE_URL = "http://receiver.test"
TEMPORAL = RefusingTemporal()
POLICY = load_saga_policy()
APP = create_receiver_app(TEMPORAL, receiver_settings(), lambda: POLICY)
PATHS = [STRIPE.path, HUBSPOT.path, SIGNED_EVENTS.path, "/events/unknown"]
SIGNATURE_HEADERS = ["Stripe-Signature", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-Q2C-Signature"]
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_values = st.binary(max_size=200).filter(lambda v: b"\n" not in v and b"\r" not in v) | st.sampled_from(
    [b"t=1,v1=00", b"t=9999999999,v1=" + b"0" * 64, b"1700000000000", b"=", b",,,", b"t=,v1="]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
an_id = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}", fullmatch=True)
# Values that are never an object ID (integers are not one either, except in HubSpot, whose IDs are numbers).
not_an_id = (
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(max_value=-1)
    | st.lists(st.integers(), max_size=2)
    | st.text().filter(lambda text: not ID.fullmatch(text))
)
trigger_types = st.sampled_from(["invoice.finalized", "credit_note.created", "invoice.paid", "opportunity.closed_won"])


async def _post(path: str, body: bytes, headers: Mapping[str, str | bytes]) -> httpx.Response:
    raw = [(name.encode(), value if isinstance(value, bytes) else value.encode()) for name, value in headers.items()]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url=BASE_URL) as http:
        return await http.post(path, content=body, headers=raw)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    body=st.binary(max_size=4096) | json_values.map(lambda value: json.dumps(value).encode()),
    headers=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=4),
)
async def test_unsigned_or_forged_deliveries_are_refused_with_a_4xx(
    path: str, body: bytes, headers: dict[str, bytes]
) -> None:
    calls = TEMPORAL.calls

    answer = await _post(path, body, headers)

    event(f"{answer.status_code} {answer.text[:40]}")
    assert 400 <= answer.status_code < 500, answer.text
    assert TEMPORAL.calls == calls


def _stripe_like(draw: st.DrawFn) -> bytes:
    document = st.fixed_dictionaries(
        {"object": st.sampled_from(["invoice", "credit_note"]) | json_values, "id": not_an_id | st.integers(0)}
    )
    event = {
        "object": draw(st.just("event") | json_values),
        "id": draw(an_id | json_values),
        "type": draw(trigger_types | st.text(max_size=30)),
        "data": draw(st.fixed_dictionaries({"object": document | json_values}) | json_values),
    }
    return json.dumps(event).encode()


def _hubspot_like(draw: st.DrawFn) -> bytes:
    event = st.fixed_dictionaries(
        {
            "eventId": st.integers(0) | an_id | json_values,
            "subscriptionType": st.sampled_from(["deal.propertyChange", "deal.creation"]) | st.text(max_size=20),
            "propertyName": st.sampled_from(["dealstage", "amount"]) | json_values,
            "propertyValue": st.sampled_from(["closedwon", "closedlost"]) | json_values,
            "objectId": not_an_id,
        }
    )
    return json.dumps(draw(st.lists(event | json_values, max_size=5) | json_values)).encode()


def _signed_event_like(draw: st.DrawFn) -> bytes:
    event = {
        "event_id": draw(an_id | json_values),
        "type": draw(trigger_types | st.text(max_size=30) | json_values),
        "object_id": draw(not_an_id | st.integers(0)),
    }
    return json.dumps(draw(st.just(event) | json_values)).encode()


BODY_LIKE = {"stripe": _stripe_like, "hubspot": _hubspot_like, "signed-events": _signed_event_like}


@st.composite
def signed_deliveries(draw: st.DrawFn) -> tuple[Scheme, bytes]:
    """A correctly signed delivery of a body that looks like an event but can never name a saga's object."""
    scheme = draw(st.sampled_from(SCHEMES))
    if draw(st.booleans()):
        return scheme, draw(st.binary(max_size=2048))
    return scheme, BODY_LIKE[scheme.name](draw)


@FUZZ
@given(delivery=signed_deliveries())
async def test_signed_deliveries_of_nonsense_are_acknowledged_or_refused_but_start_nothing(
    delivery: tuple[Scheme, bytes],
) -> None:
    scheme, body = delivery
    calls = TEMPORAL.calls
    headers = scheme.sign(BASE_URL + scheme.path, body, at=time.time())

    answer = await _post(scheme.path, body, headers)

    event(f"{scheme.name}: {answer.status_code} {answer.text[:40]}")
    assert answer.status_code in (200, 400, 401), answer.text  # 401: Stripe's library refuses non-UTF-8 bodies
    assert answer.status_code != 200 or answer.text.startswith("started 0, already started 0")
    assert TEMPORAL.calls == calls
