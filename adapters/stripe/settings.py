"""How the Stripe Billing adapter reaches Stripe (or the emulator): base URL, secret key, and billing choices.

Environment variables:
    Q2C_STRIPE_API_KEY                 secret key, sk_test_... or sk_live_... (required)
    Q2C_STRIPE_BASE_URL                API base, default https://api.stripe.com (the emulator's URL in dev)
    Q2C_STRIPE_TIMEOUT_SECONDS         per-request timeout, default 30
    Q2C_STRIPE_API_VERSION             Stripe-Version to send; default: the one stripe-python pins
    Q2C_STRIPE_USAGE_METER_EVENT_NAME  event name of the billing meter for usage lines, default api_calls
    Q2C_STRIPE_TEST_CLOCK              a test clock to put new customers on (sandboxes only; demo time travel)
    Q2C_STRIPE_SEARCH_FALLBACK_MINUTES how far back undo operations also look in the (consistent) list endpoints,
                                       because Stripe Search can lag behind writes; default 60
    Q2C_STRIPE_MAX_REQUESTS_PER_SECOND requests a second this worker process sends at most; default 20 for a test
                                       key, 80 for a live one (Stripe allows 25 and 100 per account: the rest is
                                       left to other clients; with several workers, give each its share)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "Q2C_STRIPE_"
STRIPE_API = "https://api.stripe.com"
# Stripe's default rate limits are 25 requests a second in test mode and 100 in live mode, per account.
TEST_MODE_PACE, LIVE_MODE_PACE = 20.0, 80.0


class StripeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr
    base_url: str = Field(STRIPE_API, min_length=1)
    timeout_seconds: float = Field(30.0, gt=0)
    api_version: str | None = None
    usage_meter_event_name: str = Field("api_calls", min_length=1)
    test_clock: str | None = None
    search_fallback_minutes: int = Field(60, ge=0)
    max_requests_per_second: float | None = Field(None, gt=0)

    @property
    def request_pace(self) -> float:
        """Requests a second to pace this process to (`adapters.request_pacing`)."""
        if self.max_requests_per_second is not None:
            return self.max_requests_per_second
        live = self.api_key.get_secret_value().startswith(("sk_live_", "rk_live_"))
        return LIVE_MODE_PACE if live else TEST_MODE_PACE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StripeSettings:
        env = os.environ if environ is None else environ
        names = {
            "api_key": "API_KEY",
            "base_url": "BASE_URL",
            "timeout_seconds": "TIMEOUT_SECONDS",
            "api_version": "API_VERSION",
            "usage_meter_event_name": "USAGE_METER_EVENT_NAME",
            "test_clock": "TEST_CLOCK",
            "search_fallback_minutes": "SEARCH_FALLBACK_MINUTES",
            "max_requests_per_second": "MAX_REQUESTS_PER_SECOND",
        }
        values = {field: env.get(ENV_PREFIX + name) or None for field, name in names.items()}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
