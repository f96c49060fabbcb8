"""Settings of the Stripe emulator: API keys it accepts, limits, webhook endpoints and their secrets."""

from __future__ import annotations

import json
import os

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "Q2C_SANDBOX_STRIPE_"


class WebhookEndpointSettings(BaseModel):
    """An endpoint that receives every event (or those listed), signed with `secret` (`whsec_...`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secret: str = Field(min_length=1)
    enabled_events: tuple[str, ...] = ("*",)

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


class StripeEmulatorSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_keys: tuple[str, ...] = Field(("sk_test_q2c_sandbox",), min_length=1, description="Secret keys accepted")
    account_id: str = "acct_1Q2cSandbox000001"
    api_version: str = Field("2026-06-24.dahlia", description="Version reported when a request names none")
    rate_limit_per_second: float = Field(25.0, gt=0, description="Stripe's test-mode limit is 25 requests/s")
    rate_limit_burst: int = Field(25, ge=1)
    idempotency_ttl_seconds: int = Field(24 * 3600, ge=1, description="Stripe keeps keys for at least 24 h")
    webhook_endpoints: tuple[WebhookEndpointSettings, ...] = ()
    webhook_retry_delays_seconds: tuple[float, ...] = Field(
        (1.0, 5.0, 30.0, 120.0, 600.0, 3600.0),
        description="Back-off between delivery attempts (Stripe retries for up to 3 days in live mode)",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    search_lag_seconds: float = Field(
        0.0, ge=0, description="Stripe Search is eventually consistent (usually under a minute); 0 = immediate"
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> StripeEmulatorSettings:
        """`Q2C_SANDBOX_STRIPE_API_KEYS=sk_test_a,sk_test_b`, `..._WEBHOOK_ENDPOINTS='[{"url":...,"secret":...}]'`,
        `..._RATE_LIMIT_PER_SECOND=25`, `..._SEARCH_LAG_SECONDS=0`."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if keys := env.get(ENV_PREFIX + "API_KEYS"):
            values["api_keys"] = tuple(k.strip() for k in keys.split(",") if k.strip())
        if endpoints := env.get(ENV_PREFIX + "WEBHOOK_ENDPOINTS"):
            values["webhook_endpoints"] = tuple(json.loads(endpoints))
        for name in ("rate_limit_per_second", "search_lag_seconds"):
            if (raw := env.get(ENV_PREFIX + name.upper())) is not None:
                values[name] = float(raw)
        return cls.model_validate(values)
