"""What the campaign does to the stack, as people and vendors would: close deals in Salesforce, move the Stripe test
clock so invoices fall due. Its own calls retry through the faults it injects (they are not under test)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

import httpx
import stripe

from cli.billing_year import CONTRACT_START, advance
from cli.chaos.stack import CampaignStack
from sandbox.salesforce.seed import SeedError, close_opportunity, get_token
from sandbox.stripe.api_client import stripe_client

T = TypeVar("T")
ATTEMPTS = 30
CLOSING_CONCURRENCY = 8
# The first invoices fall due at the contract start; an hour later Stripe has finalized them.
INVOICE_MOMENT = CONTRACT_START + timedelta(hours=2)


async def persistently(request: Callable[[], Awaitable[T]]) -> T:
    """`request()`, again after an injected fault (5xx, 429, a dropped connection, a timeout)."""
    for attempt in range(ATTEMPTS):
        try:
            return await request()
        except (SeedError, httpx.HTTPError, stripe.StripeError):
            if attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def close_deals(stack: CampaignStack, opportunities: Sequence[str]) -> None:
    """Set each deal to Closed Won in Salesforce: each Outbound Message reaches the receiver, which starts a saga."""
    salesforce = stack.sandbox.urls["salesforce"]
    app = stack.sandbox.salesforce
    token = await persistently(lambda: get_token(salesforce, app.client_id, app.client_secret))
    gate = asyncio.Semaphore(CLOSING_CONCURRENCY)

    async def close(opportunity: str) -> None:
        async with gate:
            await persistently(lambda: close_opportunity(salesforce, token, opportunity))

    await asyncio.gather(*(close(opportunity) for opportunity in opportunities))


async def issue_first_invoices(stack: CampaignStack) -> None:
    """Move the test clock past the contract start: Stripe issues every subscription's first invoice and sends
    `invoice.finalized`, which starts one invoice → revenue saga each."""
    async with stripe_client(stack.vendor_settings[2]) as client:
        await persistently(lambda: advance(client, stack.clock, INVOICE_MOMENT))
