"""A Stripe Billing emulator: the v1 API subset q2c uses, in Stripe's wire format, with durable state.

    app = create_app(store, FaultInjector(), StripeEmulatorSettings())   # a FastAPI app
    await seed_stripe(base_url, "sk_test_q2c_sandbox", rules)              # catalog + usage meter, idempotent

Emulated (API 2025-03-31 "basil" and later shapes, checked against Stripe's fixtures3.json):
- the edge: Bearer/Basic secret-key auth, form-encoded bodies with nested and indexed brackets, unknown/missing/
  mistyped parameters named in Stripe's error body, a token-bucket rate limit (429), `Request-Id` headers, and
  idempotency keys (replay, `idempotency_error`, 409 while running, nothing stored for a refused request);
- customers, products, prices (licensed, one-time, metered with graduated/volume tiers), billing meters, meter
  events and meter event summaries, subscriptions (items with their own periods, anchors, trials, backdating,
  cancel_at, update with prorations to the second, cancel), subscription items, subscription schedules (phases,
  from_subscription, release, cancel), invoices (draft → open → paid / void, create_preview, update: metadata,
  description and footer at any status, collection terms only on drafts, lines), invoice items, credit notes
  (update of memo and metadata, lines), invoice payments (list and retrieve), test clocks (advancing bills in
  advance / in arrears and finalizes drafts), events, lists with cursors, search;
- signed webhooks to configured endpoints, at least once, retried with back-off, with duplicate/reorder faults.

Not emulated: payment methods, charges, payment intents, payment records and refunds (a `charge_automatically`
invoice's payment attempt always fails; pay invoices with `paid_out_of_band`, which creates no invoice payment),
taxes, discounts and coupons, quotes, Connect, the webhook endpoints API (endpoints come from settings),
`price_data` inline prices, flexible billing mode.
"""

from sandbox.stripe.app import create_app
from sandbox.stripe.seed import StripeSeed, seed_stripe
from sandbox.stripe.settings import StripeEmulatorSettings, WebhookEndpointSettings

__all__ = ["StripeEmulatorSettings", "StripeSeed", "WebhookEndpointSettings", "create_app", "seed_stripe"]
