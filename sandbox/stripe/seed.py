"""Put the demo catalog into a Stripe emulator (or a Stripe sandbox) through its own API, idempotently.

One product per billing price key of the mapping rules (the product's `id` *is* the key, so the adapter can
create prices on it without a lookup), and the `api_calls` billing meter for usage lines. Running it again
creates nothing: products are looked up by ID and the meter by event name first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import stripe

from canonical.mapping_rules import MappingRules, parse_mapping_rules

USAGE_METER_EVENT = "api_calls"


@dataclass(frozen=True)
class StripeSeed:
    product_ids: tuple[str, ...]
    meter_id: str
    created: tuple[str, ...]


def load_rules(rules: MappingRules | Path) -> MappingRules:
    if isinstance(rules, MappingRules):
        return rules
    return parse_mapping_rules(rules.read_text(encoding="utf-8"), str(rules))


async def seed_stripe(
    base_url: str, api_key: str, rules: MappingRules | Path, meter_event_name: str = USAGE_METER_EVENT
) -> StripeSeed:
    mapping = load_rules(rules)
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(
        api_key, base_addresses={"api": base_url.rstrip("/")}, http_client=http, max_network_retries=2
    )
    created: list[str] = []
    try:
        product_ids = []
        for product in mapping.products:
            try:
                await client.v1.products.retrieve_async(product.billing_price_key)
            except stripe.InvalidRequestError as error:
                if error.code != "resource_missing":
                    raise
                params: dict[str, Any] = {
                    "id": product.billing_price_key,
                    "name": product.name,
                    "metadata": {
                        "product_code": product.product_code,
                        "kind": product.kind.value,
                        "erp_item": product.erp_item,
                    },
                }
                await client.v1.products.create_async(
                    params=cast(Any, params),
                    options={"idempotency_key": f"q2c-seed/product/{product.billing_price_key}"},
                )
                created.append(product.billing_price_key)
            product_ids.append(product.billing_price_key)
        meters = await client.v1.billing.meters.list_async(params={"status": "active", "limit": 100})
        meter = next((m for m in meters.data if m.event_name == meter_event_name), None)
        if meter is None:
            meter = await client.v1.billing.meters.create_async(
                params={
                    "display_name": "API calls",
                    "event_name": meter_event_name,
                    "default_aggregation": {"formula": "sum"},
                    "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                    "value_settings": {"event_payload_key": "value"},
                },
                options={"idempotency_key": f"q2c-seed/meter/{meter_event_name}"},
            )
            created.append(meter.id)
        return StripeSeed(tuple(product_ids), meter.id, tuple(created))
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
