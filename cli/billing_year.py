"""Driving a Stripe test clock through the reference contract year: the clock, its moves, meter events, invoices.

Stripe bills a customer on a test clock by the clock's time. The demo freezes a clock at the contract start, the
worker creates its billing customers on it, and `cli.revenue_year` moves it through the term. Every move is shorter
than one monthly interval, within Stripe's limit of two intervals per advance; after each one the clock is waited
on until it is `ready` again.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe

from adapters.memory.reference_deals import REFERENCE_SCENARIO
from cli.story import DemoFailed
from sandbox.stripe.api_client import call

CONTRACT_START = datetime(2027, 1, 1, tzinfo=UTC)
USAGE_DAY = 15  # the day of each month on which its usage is reported
READY_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1


def monthly_usage(scenario: Path = REFERENCE_SCENARIO) -> dict[str, int]:
    """API calls per calendar month (`YYYY-MM`), from the scenario's `[usage]` table."""
    with scenario.open("rb") as file:
        usage = tomllib.load(file)["usage"]
    return {str(month): int(calls) for month, calls in usage.items()}


def utc(moment: int) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)


async def advance(client: stripe.StripeClient, clock_id: str, to: datetime) -> datetime:
    """Move the clock to `to` (if it is not there yet) and wait until Stripe is done; the clock's time."""
    clocks = client.v1.test_helpers.test_clocks
    clock = await call(lambda: clocks.retrieve_async(clock_id))
    target = int(to.timestamp())
    if clock.frozen_time < target:
        await call(lambda: clocks.advance_async(clock_id, params={"frozen_time": target}))
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while (clock := await call(lambda: clocks.retrieve_async(clock_id))).status != "ready":
        if clock.status == "internal_failure":
            raise DemoFailed(f"Stripe failed to advance test clock {clock_id} to {to:%Y-%m-%d %H:%M} UTC")
        if time.monotonic() > deadline:
            raise DemoFailed(f"test clock {clock_id} was not ready within {READY_TIMEOUT_SECONDS:g} s")
        await asyncio.sleep(POLL_SECONDS)
    return utc(clock.frozen_time)


async def report_usage(
    client: stripe.StripeClient, event_name: str, customer_id: str, month: str, calls: int, at: datetime
) -> None:
    params: Any = {
        "event_name": event_name,
        "payload": {"stripe_customer_id": customer_id, "value": str(calls)},
        "identifier": f"q2c-demo-usage-{customer_id}-{month}",  # one event per month: a retry cannot double it
        "timestamp": int(at.timestamp()),
    }
    await call(lambda: client.v1.billing.meter_events.create_async(params=params))


async def invoices_of(client: stripe.StripeClient, customer_id: str) -> list[stripe.Invoice]:
    """Every invoice of the customer, newest first, page by page."""
    invoices: list[stripe.Invoice] = []
    while True:
        params: Any = {"customer": customer_id, "limit": 100}
        if invoices:
            params["starting_after"] = invoices[-1].id
        page = await call(lambda p=params: client.v1.invoices.list_async(params=p))  # type: ignore[misc]
        invoices += page.data
        if not page.has_more:
            return invoices
