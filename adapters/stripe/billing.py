"""BillingPort and BillingDocumentsPort over Stripe Billing, with the official stripe-python library (async, httpx).

Every write carries an idempotency key derived from the saga's key, so a retried call replays Stripe's first
answer instead of creating twice; what a key created is tagged `metadata[q2c_created_by]=<key>`, which is how
the undo operations find it again, and how a call retried after Stripe's 24-hour idempotency window still finds
what it created. Stripe Search is eventually consistent (usually under a minute behind), so lookups by key also
check the strongly consistent list endpoints for objects created within the last `search_fallback_minutes`.

The client never retries by itself (`max_network_retries=0`): Temporal retries, with the delays the classified
errors ask for. Invoices, credit notes, payments and usage (invoice → revenue) are read by `StripeDocuments`
(adapters/stripe/documents.py), to which the BillingDocumentsPort methods delegate; contract amendments are
previewed, applied and reversed by `StripeAmendments` (adapters/stripe/amendments.py), for the
BillingAmendmentPort.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar, cast

import stripe
from stripe.params import CustomerListParams, SubscriptionListParams

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.http_tracing import traced_stripe_http_client
from adapters.request_pacing import RequestPacer
from adapters.stripe import mapping
from adapters.stripe.amendments import StripeAmendments
from adapters.stripe.documents import StripeDocuments
from adapters.stripe.errors import classify
from adapters.stripe.settings import StripeSettings
from canonical.amendment import Amendment, AppliedBillingChange, BillingPreview
from canonical.billing_documents import BillingDocument, BillingPayment, MeteredUsage, UsageLine
from canonical.contract import Contract
from canonical.customer import Customer
from canonical.problems import ExceptionCategory
from canonical.product import LineKind
from canonical.references import CustomerMatch, SubscriptionRef, System

T = TypeVar("T")
SEARCH_LIMIT = 10
LIST_LIMIT = 100
ENDED = ("canceled", "incomplete_expired")


class StripeBilling:
    """`StripeBilling(StripeSettings.from_env())`; close with `await billing.aclose()`."""

    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings
        self._http = traced_stripe_http_client(settings.timeout_seconds, RequestPacer(settings.request_pace))
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            base_addresses={"api": settings.base_url.rstrip("/")},
            http_client=self._http,
            max_network_retries=0,
            stripe_version=settings.api_version,
        )
        self._meter_id: str | None = None
        self._documents = StripeDocuments(self._client, self._usage_meter)
        self._amendments = StripeAmendments(self._client, settings, self._ensure_prices, self._usage_meter)

    @property
    def client(self) -> stripe.StripeClient:
        return self._client

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except stripe.StripeError as error:
            raise classify(error) from error

    # --- invoice → revenue (BillingDocumentsPort) ----------------------------------------------------------

    async def fetch_document(self, document_id: str) -> BillingDocument:
        return await self._documents.fetch_document(document_id)

    async def fetch_payment(self, invoice_id: str) -> BillingPayment:
        return await self._documents.fetch_payment(invoice_id)

    async def acknowledge_posting(self, document_id: str, erp_transaction_id: str, idempotency_key: str) -> None:
        await self._documents.acknowledge_posting(document_id, erp_transaction_id, idempotency_key)

    async def metered_usage(self, usage_line: UsageLine, start: date, end: date) -> MeteredUsage:
        return await self._documents.metered_usage(usage_line, start, end)

    # --- amendments (BillingAmendmentPort) ------------------------------------------------------------------

    async def preview_amendment(self, subscription_id: str, amended: Contract, amendment: Amendment) -> BillingPreview:
        return await self._amendments.preview(subscription_id, amended, amendment)

    async def apply_amendment(
        self, subscription_id: str, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> AppliedBillingChange:
        return await self._amendments.apply(subscription_id, amended, amendment, idempotency_key)

    async def reverse_amendment_applied_by(self, idempotency_key: str) -> str | None:
        return await self._amendments.reverse(idempotency_key)

    # --- customers ----------------------------------------------------------------------------------------

    async def match_or_create_customer(
        self, customer: Customer, erp_customer_id: str, idempotency_key: str
    ) -> CustomerMatch:
        query = f"metadata['crm_account_id']:'{mapping.search_value(customer.crm_account_id)}'"
        found = await self._search_customers(query)
        mine = [c for c in found if _meta(c, "q2c_created_by") == idempotency_key]
        if mine:
            return CustomerMatch(system=System.BILLING, customer_id=mine[0].id, created=True)
        if len(found) > 1:
            raise PermanentAdapterError(
                System.BILLING,
                f"{len(found)} Stripe customers carry CRM account {customer.crm_account_id}: "
                f"{', '.join(sorted(c.id for c in found))}; merge them before billing",
                ExceptionCategory.DUPLICATE_DETECTED,
            )
        if found:
            existing = found[0]
            if _meta(existing, "erp_customer_id") != erp_customer_id:
                await self._call(
                    lambda: self._client.v1.customers.update_async(
                        existing.id, params={"metadata": {"erp_customer_id": erp_customer_id}}
                    )
                )
            return CustomerMatch(system=System.BILLING, customer_id=existing.id, created=False)
        params = mapping.customer_params(customer, erp_customer_id, idempotency_key, self._settings.test_clock)
        created = await self._call(
            lambda: self._client.v1.customers.create_async(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        )
        return CustomerMatch(system=System.BILLING, customer_id=created.id, created=True)

    async def deactivate_customer_created_by(self, idempotency_key: str) -> str | None:
        """Stripe has no inactive customers: the customer this key created is deleted (its subscriptions are
        cancelled with it). A second call finds nothing left and returns None."""
        query = f"metadata['q2c_created_by']:'{mapping.search_value(idempotency_key)}'"
        found = await self._search_customers(query)
        if not found:
            found = [c for c in await self._recent_customers() if _meta(c, "q2c_created_by") == idempotency_key]
        for customer in found:
            with contextlib.suppress(NotFoundError):  # deleted meanwhile: the undo is done either way
                await self._call(lambda c=customer: self._client.v1.customers.delete_async(c.id))  # type: ignore[misc]
        return found[0].id if found else None

    async def _search_customers(self, query: str) -> list[stripe.Customer]:
        result = await self._call(
            lambda: self._client.v1.customers.search_async(params={"query": query, "limit": SEARCH_LIMIT})
        )
        return list(result.data)

    def _clock_filter(self) -> dict[str, Any]:
        """Stripe lists objects on a test clock only when asked for that clock."""
        clock = {"test_clock": self._settings.test_clock} if self._settings.test_clock else {}
        return {"limit": LIST_LIMIT, **clock}

    async def _recent_customers(self) -> list[stripe.Customer]:
        if self._settings.search_fallback_minutes == 0:
            return []
        since = int(time.time()) - 60 * self._settings.search_fallback_minutes
        result = await self._call(
            lambda: self._client.v1.customers.list_async(
                params=cast(CustomerListParams, {**self._clock_filter(), "created": {"gte": since}})
            )
        )
        return list(result.data)

    # --- subscriptions ------------------------------------------------------------------------------------

    async def create_subscription(
        self, contract: Contract, billing_customer_id: str, idempotency_key: str
    ) -> SubscriptionRef:
        """Prices, then the subscription, then (for ramps) its schedule. Each step is idempotent on its own, so
        a retry after a failure half-way resumes where the first attempt stopped."""
        parts = mapping.segments(contract)  # refuses what Stripe cannot bill before anything is created
        scheduled = len(parts) > 1
        existing = await self._subscriptions_created_by(idempotency_key)
        if existing and (not scheduled or existing[0].status in ENDED):
            return _ref(existing[0])
        price_ids = await self._create_prices(contract, idempotency_key)
        if existing:
            subscription = existing[0]
        else:
            one_time = [price_ids[f"line-{n.line_no}"] for n in contract.lines if n.kind is LineKind.ONE_TIME]
            params = mapping.subscription_params(
                contract,
                billing_customer_id,
                parts[0],
                price_ids,
                one_time,
                idempotency_key,
                await self._now(),
                scheduled,
            )
            subscription = await self._call(
                lambda: self._client.v1.subscriptions.create_async(
                    params=cast(Any, params), options={"idempotency_key": f"{idempotency_key}/subscription"}
                )
            )
        if scheduled:
            await self._schedule(subscription, parts, price_ids, idempotency_key)
            subscription = await self._call(lambda: self._client.v1.subscriptions.retrieve_async(subscription.id))
        return _ref(subscription)

    async def _create_prices(self, contract: Contract, key: str) -> dict[str, str]:
        """The contract's prices, reusing those this key already created (found by metadata once Stripe's 24-hour
        idempotency window has passed)."""
        specs = mapping.recurring_prices(contract, key)
        for line in contract.lines:
            if line.kind is LineKind.USAGE:
                specs.append(mapping.usage_price(contract, line, await self._usage_meter(), key))
            elif line.kind is LineKind.ONE_TIME:
                specs.append(mapping.one_time_price(contract, line, key))
        return await self._ensure_prices(specs, key)

    async def _ensure_prices(self, specs: list[mapping.PriceSpec], key: str) -> dict[str, str]:
        """Price ID by ref: those this key created already (found by metadata), the rest created now."""
        query = f"metadata['q2c_created_by']:'{mapping.search_value(key)}'"
        found = await self._call(
            lambda: self._client.v1.prices.search_async(params={"query": query, "limit": LIST_LIMIT})
        )
        price_ids = {ref: p.id for p in found.data if (ref := _meta(p, "q2c_price_ref")) is not None}
        for spec in specs:
            if spec.ref in price_ids:
                continue
            price = await self._call(
                lambda s=spec: self._client.v1.prices.create_async(  # type: ignore[misc]
                    params=cast(Any, s.params), options={"idempotency_key": f"{key}/price/{s.ref}"}
                )
            )
            price_ids[spec.ref] = price.id
        return price_ids

    async def _usage_meter(self) -> str:
        if self._meter_id is None:
            meters = await self._call(
                lambda: self._client.v1.billing.meters.list_async(params={"status": "active", "limit": LIST_LIMIT})
            )
            wanted = self._settings.usage_meter_event_name
            meter = next((m for m in meters.data if m.event_name == wanted), None)
            if meter is None:
                raise PermanentAdapterError(
                    System.BILLING,
                    f"no active billing meter with event name {wanted!r} for usage lines",
                    ExceptionCategory.MAPPING_MISSING,
                )
            self._meter_id = meter.id
        return self._meter_id

    async def _schedule(
        self, subscription: stripe.Subscription, parts: list[mapping.Segment], price_ids: dict[str, str], key: str
    ) -> None:
        """A schedule made from the subscription, then given one phase per segment (unless it has them)."""
        if subscription.schedule is None:
            schedule = await self._call(
                lambda: self._client.v1.subscription_schedules.create_async(
                    params={"from_subscription": subscription.id}, options={"idempotency_key": f"{key}/schedule"}
                )
            )
        else:
            schedule_id = _id_of(subscription.schedule)
            schedule = await self._call(lambda: self._client.v1.subscription_schedules.retrieve_async(schedule_id))
        if len(schedule.phases) == len(parts):
            return
        phases = mapping.schedule_phases(schedule.phases[0].start_date, parts, price_ids)
        await self._call(
            lambda: self._client.v1.subscription_schedules.update_async(
                schedule.id,
                params=cast(Any, {"phases": phases, "end_behavior": "cancel"}),
                options={"idempotency_key": f"{key}/schedule/phases"},
            )
        )

    async def _now(self) -> int:
        """Stripe's time for new subscriptions: the test clock's when customers live on one."""
        clock_id = self._settings.test_clock
        if not clock_id:
            return int(time.time())
        clock = await self._call(lambda: self._client.v1.test_helpers.test_clocks.retrieve_async(clock_id))
        return int(clock.frozen_time)

    async def cancel_subscription_created_by(self, idempotency_key: str) -> str | None:
        found = await self._subscriptions_created_by(idempotency_key)
        for subscription in found:
            if subscription.status in ENDED:
                continue
            try:
                await self._call(
                    lambda s=subscription: self._client.v1.subscriptions.cancel_async(s.id)  # type: ignore[misc]
                )
            except PermanentAdapterError as error:
                if not _already_canceled(error):
                    raise
        return found[0].id if found else None

    async def _subscriptions_created_by(self, key: str) -> list[stripe.Subscription]:
        query = f"metadata['q2c_created_by']:'{mapping.search_value(key)}'"
        result = await self._call(
            lambda: self._client.v1.subscriptions.search_async(params={"query": query, "limit": SEARCH_LIMIT})
        )
        found = list(result.data)
        if found or self._settings.search_fallback_minutes == 0:
            return found
        since = int(time.time()) - 60 * self._settings.search_fallback_minutes
        recent = await self._call(
            lambda: self._client.v1.subscriptions.list_async(
                params=cast(
                    SubscriptionListParams, {**self._clock_filter(), "status": "all", "created": {"gte": since}}
                )
            )
        )
        return [s for s in recent.data if _meta(s, "q2c_created_by") == key]


def _ref(subscription: stripe.Subscription) -> SubscriptionRef:
    return SubscriptionRef(
        subscription_id=subscription.id, billing_customer_id=_id_of(subscription.customer), status=subscription.status
    )


def _id_of(value: Any) -> str:
    return value if isinstance(value, str) else str(value.id)


def _already_canceled(error: PermanentAdapterError) -> bool:
    return isinstance(error, NotFoundError) or "canceled" in error.message.lower()


def _meta(obj: stripe.Customer | stripe.Subscription | stripe.Price, key: str) -> str | None:
    metadata = obj.metadata
    return str(metadata[key]) if metadata is not None and key in metadata else None
