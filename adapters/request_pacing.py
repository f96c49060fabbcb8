"""Keeping a worker's calls to a vendor under the vendor's rate limit by waiting, not by collecting 429s.

A rate-limited call fails its activity, and Temporal retries the whole activity later. When a burst of sagas
(a quarter-end batch of closed deals) meets the limit, the retries crowd out the calls that could have
succeeded; a saga whose step makes several calls then rarely gets all of them through and the burst stalls
(the fault campaign saw 155 of 200 closed-won sagas still retrying against Stripe's test-mode limit after 6
minutes). Pacing the requests in the process keeps nearly every call under the limit, so none is wasted.
The pace is per worker process: with several workers, give each its share of the vendor's limit.
"""

from __future__ import annotations

import asyncio

import httpx


class RequestPacer:
    """A token bucket: on average `per_second` requests a second, at most `burst` at once."""

    def __init__(self, per_second: float, burst: int = 1) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a pace needs per_second > 0 and burst >= 1")
        self._per_second, self._burst = per_second, float(burst)
        self._tokens = float(burst)
        self._refilled_at: float | None = None
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        """Return when this request may go; callers are served in the order they asked."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            self._refill(loop.time())
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self._per_second)
                self._refill(loop.time())
            self._tokens -= 1

    def _refill(self, now: float) -> None:
        if self._refilled_at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self._per_second)
        self._refilled_at = now


class PacedTransport(httpx.AsyncBaseTransport):
    """Sends each request through `inner` once `pacer` gives it its turn."""

    def __init__(self, inner: httpx.AsyncBaseTransport, pacer: RequestPacer) -> None:
        self._inner, self._pacer = inner, pacer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._pacer.wait_turn()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
