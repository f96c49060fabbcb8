"""Invoice → revenue sagas for the throughput benchmark: the first invoice of each subscription the closed-won
batch created (Stripe issues it when the subscription starts, on the benchmark's test clock), each posted to the
NetSuite emulator and recorded in the revenue engine by its own saga.

The emulators send no webhooks here: the benchmark starts each saga itself, once its invoice is found, so the
latency is the saga's alone.
"""

from __future__ import annotations

from functools import partial

from temporalio.client import Client

from adapters.stripe.settings import StripeSettings
from canonical.saga_policy import SagaPolicy
from sandbox.stripe.api_client import call, stripe_client
from workflows.invoice_client import invoice_workflow_id, start_invoice_to_revenue


class InvoiceLoad:
    """`prepare(customers)` finds each customer's first invoice; `run_one(i)` runs the saga of invoice i."""

    name = "invoice_to_revenue"

    def __init__(self, client: Client, task_queue: str, policy: SagaPolicy, billing: StripeSettings) -> None:
        self._client, self._queue, self._policy, self._billing = client, task_queue, policy, billing
        self._invoices: list[str] = []

    async def prepare(self, customers: list[str]) -> None:
        self._invoices = []
        async with stripe_client(self._billing) as client:
            for customer in customers:
                page = await call(partial(client.v1.invoices.list_async, params={"customer": customer, "limit": 1}))
                if not page.data:
                    raise RuntimeError(f"Stripe issued no invoice for customer {customer}")
                self._invoices.append(page.data[0].id)

    def workflow_id(self, index: int) -> str:
        return invoice_workflow_id(self._invoices[index])

    async def run_one(self, index: int) -> None:
        started = await start_invoice_to_revenue(self._client, self._invoices[index], self._policy, self._queue)
        await started.handle.result()
