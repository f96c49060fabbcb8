"""The official stripe client for tools that drive a Stripe emulator or sandbox from outside q2c's adapters — the
demo, the benchmarks, the fault campaign, tests: a client against `settings.base_url`, rate-limit waits, test clocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol, TypeVar

import stripe
from pydantic import SecretStr

RATE_LIMIT_ATTEMPTS = 5  # Stripe's test mode allows 25 requests a second, and its client does not retry a 429

T = TypeVar("T")


class StripeAccount(Protocol):
    """Where the client goes and with which key (q2c's `StripeSettings` is one)."""

    @property
    def api_key(self) -> SecretStr: ...

    @property
    def base_url(self) -> str: ...


async def call(request: Callable[[], Awaitable[T]]) -> T:
    """`request()`, waiting out Stripe's rate limit (429, `Retry-After`) a few times."""
    for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
        try:
            return await request()
        except stripe.RateLimitError as error:
            if attempt == RATE_LIMIT_ATTEMPTS:
                raise
            retry_after = (error.headers or {}).get("retry-after", "1")
            await asyncio.sleep(float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 1.0)
    raise AssertionError("unreachable")


@asynccontextmanager
async def stripe_client(settings: StripeAccount) -> AsyncIterator[stripe.StripeClient]:
    """The official client against `settings.base_url` (the emulator), closed afterwards."""
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(
        settings.api_key.get_secret_value(),
        base_addresses={"api": settings.base_url.rstrip("/")},
        http_client=http,
        max_network_retries=2,
    )
    try:
        yield client
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def create_test_clock(
    settings: StripeAccount, frozen_at: datetime, name: str = "q2c demo: the reference contract year"
) -> str:
    """A Stripe test clock frozen at `frozen_at`: subscriptions on it invoice as its time moves."""
    async with stripe_client(settings) as client:
        clock = await client.v1.test_helpers.test_clocks.create_async(
            params={"frozen_time": int(frozen_at.timestamp()), "name": name}
        )
    return clock.id
