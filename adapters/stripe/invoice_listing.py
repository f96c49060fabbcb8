"""Billing's side of reconciliation: every finalised invoice and issued credit note of a span of days, in bulk.

Three auto-paged lists (customers, invoices, credit notes; 100 a page), never one request per document. A document
belongs to the day it took effect, as invoice → revenue dates it (`adapters.stripe.documents`): an invoice its
finalisation day, a credit note its `effective_at` (else creation) day, in UTC. Stripe filters lists by
`created`, so the lists ask for a day more on each side and the days are checked here. The legal entity is the
one q2c keeps in the customer's metadata (customers listed once; those on a test clock, which Stripe leaves out
of the list, read one by one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import stripe

from adapters.errors import PermanentAdapterError
from adapters.stripe.document_mapping import id_of, metadata_value, utc_day
from adapters.stripe.errors import classify
from canonical.problems import ExceptionCategory
from canonical.reconciliation import BillingRecord, DocumentSide
from canonical.references import System

PAGE = 100
FINALISED = ("open", "paid", "uncollectible")
UNKNOWN_ENTITY = "?"  # a customer without q2c's legal_entity metadata: still reconciled per document


async def billing_records(client: stripe.StripeClient, first_day: date, last_day: date) -> list[BillingRecord]:
    """The invoices and credit notes that took effect from `first_day` to `last_day` (UTC days, inclusive)."""
    created = {"gte": _unix(first_day - timedelta(days=1)), "lt": _unix(last_day + timedelta(days=2))}
    params: Any = {"limit": PAGE, "created": created}
    try:
        entities = {c.id: metadata_value(c.metadata, "legal_entity") async for c in _all(client.v1.customers, {})}
        invoices = [
            invoice
            async for invoice in _all(client.v1.invoices, params)
            if invoice.status in FINALISED and invoice.status_transitions.finalized_at is not None
        ]
        notes = [note async for note in _all(client.v1.credit_notes, params) if note.status == "issued"]
        await _add_unlisted_customers(client, entities, [*invoices, *notes])
        records = [_invoice(invoice, entities) for invoice in invoices]
        records += [_credit_note(note, entities) for note in notes]
    except stripe.StripeError as error:
        raise classify(error) from error
    return [r for r in records if first_day <= r.issued_on <= last_day]


async def _all(service: Any, params: Any) -> AsyncIterator[Any]:
    page = await service.list_async(params={"limit": PAGE, **params})  # the stripe SDK's own auto-paging
    async for item in page.auto_paging_iter():
        yield item


async def _add_unlisted_customers(
    client: stripe.StripeClient, entities: dict[str, str | None], documents: list[Any]
) -> None:
    """Stripe leaves customers on a test clock out of the customer list (unless asked per clock): read those one
    by one, once each."""
    for customer_id in sorted({id_of(d.customer) for d in documents if d.customer is not None} - set(entities)):
        customer = await client.v1.customers.retrieve_async(customer_id)
        entities[customer_id] = metadata_value(customer.metadata, "legal_entity")


def _invoice(invoice: stripe.Invoice, entities: dict[str, str | None]) -> BillingRecord:
    finalized_at = invoice.status_transitions.finalized_at
    assert finalized_at is not None
    return BillingRecord(
        document_id=invoice.id,
        side=DocumentSide.INVOICE,
        issued_on=utc_day(finalized_at),
        legal_entity=_entity(invoice.customer, entities),
        currency=invoice.currency.upper(),
        total_minor=invoice.total,
        open_minor=invoice.amount_remaining if invoice.status == "open" else 0,
    )


def _credit_note(note: stripe.CreditNote, entities: dict[str, str | None]) -> BillingRecord:
    return BillingRecord(
        document_id=note.id,
        side=DocumentSide.CREDIT_NOTE,
        issued_on=utc_day(note.effective_at or note.created),
        legal_entity=_entity(note.customer, entities),
        currency=note.currency.upper(),
        total_minor=-note.total,
        open_minor=0,
    )


def _entity(customer: Any, entities: dict[str, str | None]) -> str:
    if customer is None:
        raise PermanentAdapterError(
            System.BILLING, "a billing document has no customer", ExceptionCategory.INVALID_DATA
        )
    return entities.get(id_of(customer)) or UNKNOWN_ENTITY


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class StripeInvoiceListing:
    """`BillingListingPort` over a Stripe client."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def billing_records(self, first_day: date, last_day: date) -> list[BillingRecord]:
        return await billing_records(self._client, first_day, last_day)
