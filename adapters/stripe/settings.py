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
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "Q2C_STRIPE_"
STRIPE_API = "https://api.stripe.com"


class StripeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr
    base_url: str = Field(STRIPE_API, min_length=1)
    timeout_seconds: float = Field(30.0, gt=0)
    api_version: str | None = None
    usage_meter_event_name: str = Field("api_calls", min_length=1)
    test_clock: str | None = None
    search_fallback_minutes: int = Field(60, ge=0)

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
        }
        values = {field: env.get(ENV_PREFIX + name) or None for field, name in names.items()}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
