"""Signed webhooks: Stripe's signature scheme checked with stripe-python's own verifier; at-least-once delivery
retried until the endpoint says 2xx; duplicated and reordered deliveries when those faults are injected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import stripe
from fastapi import FastAPI, Request, Response

from canonical.mapping_rules import MappingRules
from sandbox.faults import FaultConfig, FaultRule
from sandbox.servers import serve_apps
from sandbox.stripe import StripeEmulatorSettings, WebhookEndpointSettings
from sandbox.stripe.webhooks import signature_header
from workers.dev_server import free_port

from .conftest import Emulator, official_client, start_emulator

SECRET = "whsec_q2c_test_secret"


@dataclass
class Receiver:
    url: str = ""
    received: list[tuple[bytes, str]] = field(default_factory=list)
    answer: int = 200

    def event_ids(self) -> list[str]:
        return [stripe.Webhook.construct_event(body, sig, SECRET).id for body, sig in self.received]

    async def wait_for(self, count: int) -> None:
        for _ in range(300):
            if len(self.received) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.received)} deliveries, expected {count}")


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    app = FastAPI()
    state = Receiver()

    @app.post("/stripe/webhooks")
    async def deliver(request: Request) -> Response:
        if state.answer == 200:
            state.received.append((await request.body(), request.headers["stripe-signature"]))
        return Response(status_code=state.answer)

    async with serve_apps({"receiver": (app, free_port())}) as urls:
        state.url = urls["receiver"] + "/stripe/webhooks"
        yield state


@pytest.fixture(scope="module")
async def hooked(
    tmp_path_factory: pytest.TempPathFactory, rules: MappingRules, receiver: Receiver
) -> AsyncIterator[Emulator]:
    settings = StripeEmulatorSettings(
        rate_limit_per_second=500,
        rate_limit_burst=500,
        webhook_endpoints=(WebhookEndpointSettings(url=receiver.url, secret=SECRET),),
        webhook_retry_delays_seconds=(0.05, 0.05, 0.1),
    )
    path: Path = tmp_path_factory.mktemp("hooks") / "stripe.sqlite"
    async for emulator in start_emulator(path, rules, settings):
        yield emulator


@pytest.fixture(autouse=True)
def _fresh(receiver: Receiver, hooked: Emulator) -> None:
    receiver.received.clear()
    receiver.answer = 200
    hooked.faults.configure(FaultConfig())


async def test_events_arrive_signed_and_verify_with_stripe_python(hooked: Emulator, receiver: Receiver) -> None:
    client = official_client(hooked.url)
    customer = await client.v1.customers.create_async(
        params={"name": "Hooked Inc."}, options={"idempotency_key": "hooked-1"}
    )
    await receiver.wait_for(1)

    body, signature = receiver.received[0]
    event = stripe.Webhook.construct_event(body, signature, SECRET)
    assert event.type == "customer.created" and event.data.object.id == customer.id
    assert event.request.idempotency_key == "hooked-1" and event.request.id.startswith("req_")
    assert event.api_version and event.livemode is False
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"Hooked", b"Hacked"), signature, SECRET)
    stored = await client.v1.events.retrieve_async(event.id)
    assert stored.data.object.id == customer.id


async def test_a_failed_delivery_is_retried_until_accepted(hooked: Emulator, receiver: Receiver) -> None:
    client = official_client(hooked.url)
    receiver.answer = 500
    customer = await client.v1.customers.create_async(params={"name": "Retry Ltd"})
    await asyncio.sleep(0.08)  # the first attempt (and perhaps the second) fails
    receiver.answer = 200
    await receiver.wait_for(1)

    event = stripe.Webhook.construct_event(*receiver.received[0], SECRET)
    assert event.data.object.id == customer.id
    for _ in range(100):
        if (await client.v1.events.retrieve_async(event.id)).pending_webhooks == 0:
            break
        await asyncio.sleep(0.01)
    assert (await client.v1.events.retrieve_async(event.id)).pending_webhooks == 0


async def test_duplicated_deliveries_carry_the_same_event(hooked: Emulator, receiver: Receiver) -> None:
    hooked.faults.configure(FaultConfig(rules=[FaultRule(kind="duplicate_webhook", rate=1.0)]))
    await official_client(hooked.url).v1.customers.create_async(params={"name": "Twice GmbH"})
    await receiver.wait_for(2)

    first, second = receiver.event_ids()
    assert first == second


async def test_reordered_deliveries_arrive_newest_first(hooked: Emulator, receiver: Receiver) -> None:
    client = official_client(hooked.url)
    customer = await client.v1.customers.create_async(params={"name": "Queue AB"})
    price = await client.v1.prices.create_async(
        params={
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Q"},
        }
    )
    await receiver.wait_for(2)
    receiver.received.clear()
    hooked.faults.configure(FaultConfig(rules=[FaultRule(kind="reorder_webhooks", rate=1.0)]))

    # one request, three events, committed together: delivered as one batch, here newest first
    await client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 14,
        }
    )
    await receiver.wait_for(3)

    types = [stripe.Webhook.construct_event(b, s, SECRET).type for b, s in receiver.received]
    assert types == ["invoice.finalized", "invoice.created", "customer.subscription.created"], types


def test_the_signature_is_stripes_scheme() -> None:
    payload = b'{"id": "evt_1"}'
    header = signature_header(payload, SECRET, 1700000000)

    assert header.startswith("t=1700000000,v1=")
    stripe.WebhookSignature.verify_header(payload.decode(), header, SECRET, tolerance=None)
