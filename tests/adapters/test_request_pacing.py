"""Pacing a worker's requests to a vendor's rate limit: a token bucket in front of the HTTP transport."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from adapters.request_pacing import PacedTransport, RequestPacer
from adapters.stripe.settings import StripeSettings


async def test_requests_beyond_the_burst_wait_for_their_turn() -> None:
    pacer = RequestPacer(per_second=200, burst=5)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await asyncio.gather(*(pacer.wait_turn() for _ in range(5 + 40)))

    # The burst goes at once; the other 40 need 40 / 200 s at least, however fast the machine.
    assert loop.time() - started >= 40 / 200 * 0.99


async def test_the_paced_transport_sends_every_request_once_in_order_of_asking() -> None:
    sent: list[str] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200)

    transport = PacedTransport(httpx.MockTransport(vendor), RequestPacer(per_second=1000, burst=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://vendor.test") as client:
        for number in range(6):
            assert (await client.get(f"/v1/customers/{number}")).status_code == 200

    assert sent == [f"/v1/customers/{number}" for number in range(6)]


def test_a_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_second > 0"):
        RequestPacer(per_second=0)


@pytest.mark.parametrize(
    ("key", "configured", "pace"),
    [("sk_test_123", None, 20.0), ("sk_live_123", None, 80.0), ("rk_live_123", None, 80.0), ("sk_test_1", 5.0, 5.0)],
)
def test_stripe_is_paced_under_its_mode_s_limit_unless_told_otherwise(
    key: str, configured: float | None, pace: float
) -> None:
    settings = StripeSettings(api_key=SecretStr(key), max_requests_per_second=configured)
    assert settings.request_pace == pace


def test_the_pace_comes_from_the_environment() -> None:
    settings = StripeSettings.from_env({"Q2C_STRIPE_API_KEY": "sk_test_x", "Q2C_STRIPE_MAX_REQUESTS_PER_SECOND": "7.5"})
    assert settings.request_pace == 7.5
