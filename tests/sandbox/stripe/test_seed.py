"""The seed puts the catalog in through the emulator's API, and running it again creates nothing."""

from __future__ import annotations

import stripe

from canonical.mapping_rules import MappingRules
from sandbox.stripe import seed_stripe
from workers.config_files import mapping_rules_path

from .conftest import API_KEY, Emulator


async def test_seeding_twice_creates_nothing_new(
    emulator: Emulator, client: stripe.StripeClient, rules: MappingRules
) -> None:
    again = await seed_stripe(emulator.url, API_KEY, mapping_rules_path())  # the rules file itself, this time

    assert again.created == ()
    assert again.meter_id == emulator.meter_id
    assert set(again.product_ids) == {p.billing_price_key for p in rules.products}
    product = await client.v1.products.retrieve_async("plat_seat_monthly")
    assert product.name == "Platform subscription (per seat)" and product.metadata["product_code"] == "PLAT-SEAT"
    meters = await client.v1.billing.meters.list_async(params={"status": "active"})
    assert [m.event_name for m in meters.data].count("api_calls") == 1
