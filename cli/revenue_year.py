"""The reference contract year through q2c's invoice → revenue, payment and period-close sagas, on Stripe's test
clock (`cli.billing_year` moves it).

Each month: the clock goes to the 15th, where the month's API calls are reported as a meter event; to the 21st,
where every invoice issued on the 1st is paid (`[payments]` of the scenario: 20 days after issue); then to the
month's last evening, where `q2c close-period` closes the month (recognising that month's usage from the meter,
before it is invoiced) and the ERP period is closed; then to the next month's first morning, where Stripe issues
the next invoices. Stripe's webhooks reach the receiver, which starts one saga per invoice and per payment; the
demo waits for each to complete before moving on, so every month closes on complete books.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import stripe
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adapters.stripe.settings import StripeSettings
from canonical.invoice_saga import PeriodCloseState
from canonical.saga_policy import SagaPolicy
from cli.billing_year import (
    USAGE_DAY,
    advance,
    invoices_of,
    monthly_usage,
    next_month,
    report_usage,
    utc,
)
from cli.story import DemoFailed, step
from sandbox.stripe.api_client import call, stripe_client
from workflows.invoice_client import invoice_workflow_id, payment_workflow_id, start_period_close

PAYMENT_DELAY = timedelta(days=20)  # scenario: every invoice is paid in full this many days after issue
PAYMENT_DAY = 1 + PAYMENT_DELAY.days
CLOSE_HOUR = 23  # a month is closed on its last day at this hour (UTC), after its last payment
ISSUE_HOUR = 2  # by this hour of the 1st, Stripe has drafted (00:00) and finalized (01:00) the cycle invoices
SAGA_TIMEOUT_SECONDS = 90.0
PAID_OUT_OF_BAND: Any = {"paid_out_of_band": True}  # a bank transfer, recorded in Stripe
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Amendment:
    """A mid-term change the year makes: at `effective`, `close_in_crm()` closes it in the CRM (which starts its
    saga) and returns the saga's workflow ID."""

    effective: datetime
    close_in_crm: Callable[[], Awaitable[str]]


@dataclass
class YearSoFar:
    documents: set[str] = field(default_factory=set)  # invoices whose saga completed
    payments: set[str] = field(default_factory=set)  # invoices whose payment saga completed
    closes: list[PeriodCloseState] = field(default_factory=list)


@dataclass(frozen=True)
class RevenueYear:
    client: Client
    task_queue: str
    policy: SagaPolicy
    billing: StripeSettings
    customers: Mapping[str, str]  # name → Stripe customer ID
    usage_customer: str
    close_erp_period: Callable[[date], Any]  # awaitable: closes the ERP period starting that day
    amendment: Amendment | None = None

    async def run(self, last_month: date) -> YearSoFar:
        clock = self.billing.test_clock
        if clock is None:
            raise DemoFailed("the worker's billing customers are on no test clock")
        year = YearSoFar()
        async with stripe_client(self.billing) as stripe_api:
            await self._settle(stripe_api, year)  # the first invoices, issued when the subscriptions were created
            for month, calls in monthly_usage().items():
                start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
                if start.date() > last_month:
                    break
                await self._month(stripe_api, clock, year, start, calls)
            await self._after_the_term(stripe_api, clock, year, next_month(start))
        return year

    async def _month(
        self, stripe_api: stripe.StripeClient, clock: str, year: YearSoFar, start: datetime, calls: int
    ) -> None:
        began = time.monotonic()
        usage_day = start.replace(day=USAGE_DAY)
        paid = await self._pay_due_invoices(stripe_api, clock, until=usage_day)
        now = await advance(stripe_api, clock, usage_day)
        amended = ""
        if self.amendment is not None and start <= self.amendment.effective < next_month(start):
            amended = await self._amend(stripe_api, clock, year)
        meter_event = self.billing.usage_meter_event_name
        await report_usage(stripe_api, meter_event, self.usage_customer, f"{start:%Y-%m}", calls, now)
        last_day = next_month(start) - timedelta(days=1)
        paid += await self._pay_due_invoices(stripe_api, clock, until=last_day.replace(hour=CLOSE_HOUR))
        await self._settle(stripe_api, year)
        await advance(stripe_api, clock, last_day.replace(hour=CLOSE_HOUR))
        close = await self._close(start.date())
        year.closes.append(close)
        await self.close_erp_period(start.date())
        await advance(stripe_api, clock, next_month(start).replace(hour=ISSUE_HOUR))
        issued = await self._settle(stripe_api, year)
        journals = ", ".join(f"{j.external_id} {j.total}" for j in close.journals) or "nothing to recognise"
        step(
            f"{start:%Y-%m}  {calls:>9,} API calls · {paid} payment(s) applied · closed: {journals} · "
            f"{issued} new invoice(s) posted  ({time.monotonic() - began:.1f} s){amended}"
        )

    async def _amend(self, stripe_api: stripe.StripeClient, clock: str, year: YearSoFar) -> str:
        """Close the amendment in the CRM at its effective moment and wait for its saga and its invoice's."""
        assert self.amendment is not None
        await advance(stripe_api, clock, self.amendment.effective)
        workflow_id = await self.amendment.close_in_crm()
        await self._completed(workflow_id)
        await self._settle(stripe_api, year)
        return f"\n               {self.amendment.effective:%Y-%m-%d} amendment: saga {workflow_id} completed"

    async def _after_the_term(
        self, stripe_api: stripe.StripeClient, clock: str, year: YearSoFar, first: datetime
    ) -> None:
        """The last usage invoice comes on the day after the term; it is paid 20 days later like the others."""
        paid = await self._pay_due_invoices(stripe_api, clock, until=first.replace(day=PAYMENT_DAY, hour=1))
        await self._settle(stripe_api, year)
        step(f"{first:%Y-%m}  after the term: {paid} payment(s) applied (the ERP period stays open)")

    async def _pay_due_invoices(self, stripe_api: stripe.StripeClient, clock: str, until: datetime) -> int:
        """Pay every open invoice on its due day (20 days after the day it was issued) before `until`, moving the
        clock to each due day in turn."""
        due: dict[date, list[str]] = {}
        for customer in self.customers.values():
            for invoice in await invoices_of(stripe_api, customer):
                finalized = invoice.status_transitions.finalized_at
                if invoice.status == "open" and finalized is not None:
                    due.setdefault(utc(finalized).date() + PAYMENT_DELAY, []).append(invoice.id)
        paid = 0
        for day in sorted(d for d in due if datetime(d.year, d.month, d.day, tzinfo=UTC) < until):
            await advance(stripe_api, clock, datetime(day.year, day.month, day.day, tzinfo=UTC))
            for invoice_id in due[day]:
                await call(lambda i=invoice_id: stripe_api.v1.invoices.pay_async(i, params=PAID_OUT_OF_BAND))  # type: ignore[misc]
                paid += 1
        return paid

    async def _settle(self, stripe_api: stripe.StripeClient, year: YearSoFar) -> int:
        """Wait until every issued invoice and every payment has its saga completed; how many invoices were new."""
        new = 0
        for customer in self.customers.values():
            for invoice in await invoices_of(stripe_api, customer):
                if invoice.status in ("open", "paid") and invoice.id not in year.documents:
                    await self._completed(invoice_workflow_id(invoice.id))
                    year.documents.add(invoice.id)
                    new += 1
                if invoice.status == "paid" and invoice.id not in year.payments:
                    await self._completed(payment_workflow_id(invoice.id))
                    year.payments.add(invoice.id)
        return new

    async def _close(self, month: date) -> PeriodCloseState:
        started = await start_period_close(self.client, month, self.policy, self.task_queue)
        try:
            result = await asyncio.wait_for(started.handle.result(), SAGA_TIMEOUT_SECONDS)
        except TimeoutError:
            raise DemoFailed(f"the close of {month:%Y-%m} did not finish within {SAGA_TIMEOUT_SECONDS:g} s") from None
        return PeriodCloseState.model_validate(result)

    async def _completed(self, workflow_id: str) -> None:
        """Poll until the saga (started by a webhook) has completed; DemoFailed if it fails, parks or is late."""
        handle = self.client.get_workflow_handle(workflow_id)
        deadline = time.monotonic() + SAGA_TIMEOUT_SECONDS
        while True:
            try:
                status = (await handle.describe()).status
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                status = None  # the webhook has not arrived yet
            if status is WorkflowExecutionStatus.COMPLETED:
                return
            if status not in (None, WorkflowExecutionStatus.RUNNING):
                raise DemoFailed(f"saga {workflow_id} ended {status.name.lower()}")
            if time.monotonic() > deadline:
                raise DemoFailed(f"saga {workflow_id} did not complete within {SAGA_TIMEOUT_SECONDS:g} s")
            await asyncio.sleep(POLL_SECONDS)
