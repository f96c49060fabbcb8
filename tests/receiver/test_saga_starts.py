"""Genuine Stripe, HubSpot and generic signed events start their sagas exactly once, over real HTTP and a real
Temporal dev server (no worker polls the receiver's task queue, so the started sagas wait and are terminated)."""

from __future__ import annotations

import json
import time

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from canonical.saga_policy import SagaPolicy
from sandbox.stripe.webhooks import signature_header as stripe_emulator_signature
from tests.receiver.conftest import LiveReceiver, Receiver, RefusingTemporal, serving
from tests.receiver.schemes import (
    EVERY_KIND,
    HUBSPOT,
    INVOICE_FINALIZED,
    OPPORTUNITY_CLOSED_WON,
    SIGNED_EVENTS,
    STRIPE,
    STRIPE_PREVIOUS_SECRET,
    Scheme,
    expected_saga,
    hubspot_batch,
    hubspot_event,
    hubspot_headers,
    new_object_id,
    receiver_settings,
    stripe_event,
)

STARTED = "started 1, already started 0, ignored 0"
ALREADY_STARTED = "started 0, already started 1, ignored 0"


@pytest.mark.parametrize(("scheme", "kind"), EVERY_KIND, ids=[f"{s.name}-{k}" for s, k in EVERY_KIND])
async def test_a_genuine_event_starts_its_saga_once_however_often_it_is_delivered(
    live_receiver: LiveReceiver, scheme: Scheme, kind: str
) -> None:
    body, expected = scheme.genuine(kind)
    headers = scheme.sign(live_receiver.url + scheme.path, body)

    first = await live_receiver.http.post(scheme.path, content=body, headers=headers)
    duplicate = await live_receiver.http.post(scheme.path, content=body, headers=headers)
    retried = await live_receiver.deliver(scheme, body)  # a vendor retry is signed afresh

    assert (first.status_code, first.text) == (200, STARTED)
    assert [(r.status_code, r.text) for r in (duplicate, retried)] == [(200, ALREADY_STARTED)] * 2
    await live_receiver.assert_started_once(expected)


async def test_the_receiver_accepts_what_the_stripe_emulator_sends_even_under_the_previous_secret(
    live_receiver: LiveReceiver,
) -> None:
    invoice = new_object_id(INVOICE_FINALIZED)
    # The emulator pretty-prints its events and signs with its own code; the previous secret is still configured.
    body = json.dumps(json.loads(stripe_event(INVOICE_FINALIZED, invoice)), indent=2).encode()
    header = stripe_emulator_signature(body, STRIPE_PREVIOUS_SECRET, int(time.time()))

    answer = await live_receiver.http.post(STRIPE.path, content=body, headers={"Stripe-Signature": header})

    assert (answer.status_code, answer.text) == (200, STARTED)
    await live_receiver.assert_started_once(expected_saga(INVOICE_FINALIZED, invoice))


async def test_a_hubspot_batch_starts_one_saga_per_deal_moved_to_closed_won(live_receiver: LiveReceiver) -> None:
    won, also_won, open_deal = (new_object_id(OPPORTUNITY_CLOSED_WON, numeric=True) for _ in range(3))
    body = hubspot_batch(
        hubspot_event(won),
        hubspot_event(won, attemptNumber=1),  # the same change, twice in one batch
        hubspot_event(also_won, changeSource="AUTOMATION_PLATFORM"),
        hubspot_event(open_deal, stage="appointmentscheduled"),
        hubspot_event(open_deal, propertyName="amount", propertyValue="closedwon"),
        hubspot_event(open_deal, subscriptionType="contact.creation"),
    )

    answer = await live_receiver.deliver(HUBSPOT, body)

    assert (answer.status_code, answer.text) == (200, "started 2, already started 0, ignored 3")
    await live_receiver.assert_started_once(expected_saga(OPPORTUNITY_CLOSED_WON, won))
    await live_receiver.assert_started_once(expected_saga(OPPORTUNITY_CLOSED_WON, also_won))
    await live_receiver.assert_not_started(expected_saga(OPPORTUNITY_CLOSED_WON, open_deal))


async def test_behind_a_proxy_hubspot_signatures_cover_the_configured_public_url(
    temporal_env: WorkflowEnvironment, fast_policy: SagaPolicy
) -> None:
    public_url = "https://q2c.example.com/hubspot/webhooks?portal=62515"
    client = temporal_env.client

    async def temporal() -> Client:
        return client

    settings = receiver_settings(f"receiver-proxy-{time.time_ns()}", hubspot_webhook_url=public_url)
    async with serving(temporal, settings, fast_policy) as receiver:
        live = LiveReceiver(receiver.http, receiver.url, client, settings.task_queue)
        deal = new_object_id(OPPORTUNITY_CLOSED_WON, numeric=True)
        body = hubspot_batch(hubspot_event(deal))
        signed_for_local_url = await receiver.deliver(HUBSPOT, body)
        signed_for_public_url = await receiver.http.post(
            HUBSPOT.path, content=body, headers=hubspot_headers(public_url, body)
        )

        assert signed_for_local_url.status_code == 401
        assert (signed_for_public_url.status_code, signed_for_public_url.text) == (200, STARTED)
        await live.assert_started_once(expected_saga(OPPORTUNITY_CLOSED_WON, deal))
        await client.get_workflow_handle(expected_saga(OPPORTUNITY_CLOSED_WON, deal).workflow_id).terminate()


async def test_a_signed_closed_won_event_with_an_18_character_salesforce_id_keys_the_saga_on_15(
    live_receiver: LiveReceiver,
) -> None:
    opportunity = new_object_id(OPPORTUNITY_CLOSED_WON)  # 15 characters
    body = json.dumps({"event_id": "sf-1", "type": OPPORTUNITY_CLOSED_WON, "object_id": opportunity + "AAQ"}).encode()

    answer = await live_receiver.deliver(SIGNED_EVENTS, body)

    assert (answer.status_code, answer.text) == (200, STARTED)
    await live_receiver.assert_started_once(expected_saga(OPPORTUNITY_CLOSED_WON, opportunity))


@pytest.mark.parametrize("event_type", ["customer.created", "invoice.created", "invoice.payment_failed"])
async def test_stripe_events_that_start_nothing_are_acknowledged_without_reaching_temporal(
    refusing_receiver: Receiver, refusing_temporal: RefusingTemporal, event_type: str
) -> None:
    body = stripe_event(event_type, "cus_NeverStarted")

    answer = await refusing_receiver.deliver(STRIPE, body)

    assert (answer.status_code, answer.text) == (200, "started 0, already started 0, ignored 1")
    assert refusing_temporal.calls == 0


async def test_a_hubspot_batch_without_closed_won_deals_is_acknowledged_without_reaching_temporal(
    refusing_receiver: Receiver, refusing_temporal: RefusingTemporal
) -> None:
    body = hubspot_batch(hubspot_event("123456789", stage="qualifiedtobuy"), hubspot_event("5", stage="closedlost"))

    answer = await refusing_receiver.deliver(HUBSPOT, body)
    empty = await refusing_receiver.deliver(HUBSPOT, b"[]")

    assert (answer.status_code, answer.text) == (200, "started 0, already started 0, ignored 2")
    assert (empty.status_code, empty.text) == (200, "started 0, already started 0, ignored 0")
    assert refusing_temporal.calls == 0


async def test_answers_come_back_fast(live_receiver: LiveReceiver) -> None:
    """The receiver only starts sagas; a batch of 100 closed-won deals is answered well within HubSpot's 5 s."""
    deals = [new_object_id(OPPORTUNITY_CLOSED_WON, numeric=True) for _ in range(100)]
    body = hubspot_batch(*(hubspot_event(deal) for deal in deals))

    began = time.monotonic()
    answer = await live_receiver.deliver(HUBSPOT, body)
    elapsed = time.monotonic() - began

    assert (answer.status_code, answer.text) == (200, "started 100, already started 0, ignored 0")
    assert elapsed < 5.0
    live_receiver.checked.extend(expected_saga(OPPORTUNITY_CLOSED_WON, deal).workflow_id for deal in deals)
