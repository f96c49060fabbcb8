"""Stripe lists objects on a test clock only when asked for that clock; the adapter asks when it uses one."""

from __future__ import annotations

import uuid

import stripe


async def test_customers_and_subscriptions_on_a_test_clock_are_listed_only_for_that_clock(
    client: stripe.StripeClient,
) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": 1_798_761_600})
    on_clock = await client.v1.customers.create_async(
        params={"name": f"on clock {uuid.uuid4()}", "test_clock": clock.id}
    )
    plain = await client.v1.customers.create_async(params={"name": f"plain {uuid.uuid4()}"})

    unfiltered = {c.id for c in (await client.v1.customers.list_async(params={"limit": 100})).data}
    for_clock = {c.id for c in (await client.v1.customers.list_async(params={"test_clock": clock.id})).data}
    by_customer = await client.v1.customers.retrieve_async(on_clock.id)

    assert plain.id in unfiltered and on_clock.id not in unfiltered
    assert for_clock == {on_clock.id}
    assert by_customer.test_clock == clock.id
