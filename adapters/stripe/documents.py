"""BillingDocumentsPort over Stripe Billing: invoices, credit notes, payments and metered usage, read for
invoice → revenue, and the ERP's posting acknowledgement written back as metadata.

- Documents: a finalised invoice (`in_...`: open, paid or uncollectible) or an issued credit note (`cn_...`), every
  line mapped to its contract line through its price's metadata (prices fetched once per call).
- Payments: the invoice's paid invoice payment (`inpay_...`) when Stripe recorded one (a payment Stripe processed),
  else `<invoice id>/paid`: an invoice marked paid out of band has no payment object, and is paid only once.
- Usage: the usage meter's event summary for the subscription's customer over the UTC days asked for. Stripe
  aggregates meter events asynchronously, so a summary read right after the events were sent can lag behind them;
  the meter counts per customer, so two subscriptions of one customer on the same meter would share their usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

import stripe
from stripe import RequestOptions

from adapters.errors import PermanentAdapterError
from adapters.stripe.document_mapping import (
    ContractLineRef,
    CustomerRefs,
    billed_line,
    build_document,
    contract_line_ref,
    contract_of,
    credit_line_facts,
    id_of,
    invoice_line_facts,
    metadata_value,
    price_id_of,
    utc_day,
)
from adapters.stripe.errors import classify
from adapters.stripe.mapping import unix
from canonical.billing_documents import (
    BilledLine,
    BillingDocument,
    BillingPayment,
    DocumentKind,
    MeteredUsage,
    UsageLine,
)
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System

T = TypeVar("T")
Item = TypeVar("Item", bound=stripe.StripeObject)
PAGE = 100
FINALISED = ("open", "paid", "uncollectible")
ERP_TRANSACTION_KEY = "q2c_erp_transaction_id"
POSTED_BY_KEY = "q2c_posted_by"


async def _call(request: Callable[[], Awaitable[T]]) -> T:
    try:
        return await request()
    except stripe.StripeError as error:
        raise classify(error) from error


async def _every(first_page: Awaitable[stripe.ListObject[Item]]) -> list[Item]:
    """Every item of a list, following Stripe's cursors (`has_more`, `starting_after`)."""
    page = await first_page
    items: AsyncIterator[Item] = page.auto_paging_iter()
    return [item async for item in items]


def _refuse(message: str, category: ExceptionCategory = ExceptionCategory.INVALID_DATA) -> PermanentAdapterError:
    return PermanentAdapterError(System.BILLING, message, category)


class StripeDocuments:
    """The invoice → revenue side of `StripeBilling` (which delegates to it)."""

    def __init__(self, client: stripe.StripeClient, usage_meter: Callable[[], Awaitable[str]]) -> None:
        self._client = client
        self._usage_meter = usage_meter

    # --- documents ------------------------------------------------------------------------------------------

    async def fetch_document(self, document_id: str) -> BillingDocument:
        if document_id.startswith("in_"):
            return await self._invoice_document(document_id)
        if document_id.startswith("cn_"):
            return await self._credit_note_document(document_id)
        raise _refuse(f"{document_id!r} is neither a Stripe invoice (in_...) nor a credit note (cn_...)")

    async def _invoice_document(self, invoice_id: str) -> BillingDocument:
        invoice = await _call(lambda: self._client.v1.invoices.retrieve_async(invoice_id))
        if invoice.status not in FINALISED:
            raise _refuse(
                f"invoice {invoice_id} is {invoice.status}: only a finalised invoice (open, paid or uncollectible) "
                "is a billing document"
            )
        finalized_at = invoice.status_transitions.finalized_at
        if finalized_at is None or invoice.customer is None:
            raise _refuse(f"invoice {invoice_id} has no finalisation date or no customer")
        billed = await self._billed_invoice_lines(invoice_id, invoice.currency)
        customer_id = id_of(invoice.customer)
        return build_document(
            {
                "document_id": invoice_id,
                "kind": DocumentKind.INVOICE,
                "number": invoice.number,
                "contract_id": contract_of(invoice_id, _subscription_metadata(invoice), billed),
                "subscription_id": _subscription_of(invoice),
                "billing_customer_id": customer_id,
                **asdict(await self._customer_refs(customer_id)),
                "currency": invoice.currency.upper(),
                "issued_on": utc_day(finalized_at),
                "lines": billed,
                "total": Money.from_minor_units(invoice.total, invoice.currency),
            }
        )

    async def _credit_note_document(self, note_id: str) -> BillingDocument:
        note = await _call(lambda: self._client.v1.credit_notes.retrieve_async(note_id))
        if note.status != "issued":
            raise _refuse(f"credit note {note_id} is {note.status}: only an issued credit note is a billing document")
        invoice_id = id_of(note.invoice)
        invoice = await _call(lambda: self._client.v1.invoices.retrieve_async(invoice_id))
        issued = note.effective_at or note.created
        billed = await self._billed_credit_lines(note, invoice_id, issued)
        customer_id = id_of(note.customer)
        return build_document(
            {
                "document_id": note_id,
                "kind": DocumentKind.CREDIT_NOTE,
                "number": note.number,
                "contract_id": contract_of(note_id, _subscription_metadata(invoice), billed),
                "subscription_id": _subscription_of(invoice),
                "billing_customer_id": customer_id,
                **asdict(await self._customer_refs(customer_id)),
                "currency": note.currency.upper(),
                "issued_on": utc_day(issued),
                "lines": billed,
                "total": Money.from_minor_units(note.total, note.currency),
                "applies_to": invoice_id,
            }
        )

    async def _billed_credit_lines(
        self, note: stripe.CreditNote, invoice_id: str, issued: int
    ) -> tuple[BilledLine, ...]:
        """A line crediting an invoice line bills back what that line billed, over its days; a custom line names
        its contract line in its own metadata and is dated on the credit note's day."""
        invoice_lines = {line.id: line for line in await self._invoice_lines(invoice_id)}
        note_lines = await _call(
            lambda: _every(self._client.v1.credit_notes.line_items.list_async(note.id, params={"limit": PAGE}))
        )
        prices: dict[str, stripe.Price] = {}
        billed = []
        for line in note_lines:
            if line.invoice_line_item is None:
                ref = contract_line_ref(line.metadata, note.id, line.id)
                billed.append(billed_line(ref, credit_line_facts(line, (issued, issued), False), note.currency))
                continue
            credited = invoice_lines.get(line.invoice_line_item)
            if credited is None:
                raise _refuse(f"{note.id} line {line.id} credits {line.invoice_line_item}, not a line of {invoice_id}")
            ref = await self._contract_line(credited, invoice_id, prices)
            facts = invoice_line_facts(credited)
            billed.append(billed_line(ref, credit_line_facts(line, facts.period, facts.proration), note.currency))
        return tuple(billed)

    async def _invoice_lines(self, invoice_id: str) -> list[stripe.InvoiceLineItem]:
        """Every line of the invoice: Stripe shows the first ten on the invoice, the rest on its lines endpoint."""
        return await _call(
            lambda: _every(self._client.v1.invoices.line_items.list_async(invoice_id, params={"limit": PAGE}))
        )

    async def _billed_invoice_lines(self, invoice_id: str, currency: str) -> tuple[BilledLine, ...]:
        prices: dict[str, stripe.Price] = {}
        billed = []
        for line in await self._invoice_lines(invoice_id):
            ref = await self._contract_line(line, invoice_id, prices)
            billed.append(billed_line(ref, invoice_line_facts(line), currency))
        return tuple(billed)

    async def _contract_line(
        self, line: stripe.InvoiceLineItem, invoice_id: str, prices: dict[str, stripe.Price]
    ) -> ContractLineRef:
        """The contract line the line's price names; `prices` keeps the prices already fetched in this call."""
        price_id = price_id_of(line, invoice_id)
        if price_id not in prices:
            prices[price_id] = await self._price(price_id)
        return contract_line_ref(prices[price_id].metadata, invoice_id, line.id)

    async def _price(self, price_id: str) -> stripe.Price:
        return await _call(lambda: self._client.v1.prices.retrieve_async(price_id))

    async def _customer_refs(self, customer_id: str) -> CustomerRefs:
        customer = await _call(lambda: self._client.v1.customers.retrieve_async(customer_id))
        if getattr(customer, "deleted", False):  # a deleted customer keeps only its ID
            return CustomerRefs()
        address = getattr(customer, "address", None)
        return CustomerRefs.of(customer.metadata, getattr(address, "country", None) if address else None)

    # --- payments -----------------------------------------------------------------------------------------

    async def fetch_payment(self, invoice_id: str) -> BillingPayment:
        invoice = await _call(lambda: self._client.v1.invoices.retrieve_async(invoice_id))
        paid_at = invoice.status_transitions.paid_at
        if invoice.status != "paid" or paid_at is None or invoice.customer is None:
            raise _refuse(f"invoice {invoice_id} is {invoice.status}, not paid: there is no payment to record")
        contract_id = metadata_value(_subscription_metadata(invoice), "contract_id")
        if contract_id is None:
            contract_id = contract_of(invoice_id, None, await self._billed_invoice_lines(invoice_id, invoice.currency))
        customer_id = id_of(invoice.customer)
        return BillingPayment(
            payment_id=await self._payment_id(invoice_id),
            invoice_id=invoice_id,
            contract_id=contract_id,
            billing_customer_id=customer_id,
            erp_customer_id=(refs := await self._customer_refs(customer_id)).erp_customer_id,
            crm_account_id=refs.crm_account_id,
            amount=Money.from_minor_units(invoice.amount_paid, invoice.currency),
            paid_on=utc_day(paid_at),
        )

    async def _payment_id(self, invoice_id: str) -> str:
        """The invoice payment that settled the invoice (the last one paid), else one derived from the invoice."""
        payments = await _call(
            lambda: _every(
                self._client.v1.invoice_payments.list_async(
                    params={"invoice": invoice_id, "status": "paid", "limit": PAGE}
                )
            )
        )
        if not payments:
            return f"{invoice_id}/paid"
        settling = max(payments, key=lambda p: (p.status_transitions.paid_at or 0, p.id))
        return settling.id

    # --- posting acknowledgement ----------------------------------------------------------------------------

    async def acknowledge_posting(self, document_id: str, erp_transaction_id: str, idempotency_key: str) -> None:
        """Stripe keeps metadata editable on finalised invoices and on credit notes; a repeat sets the same values."""
        metadata = {ERP_TRANSACTION_KEY: erp_transaction_id, POSTED_BY_KEY: idempotency_key}
        options: RequestOptions = {"idempotency_key": idempotency_key}
        if document_id.startswith("in_"):
            await _call(
                lambda: self._client.v1.invoices.update_async(
                    document_id, params={"metadata": metadata}, options=options
                )
            )
        elif document_id.startswith("cn_"):
            await _call(
                lambda: self._client.v1.credit_notes.update_async(
                    document_id, params={"metadata": metadata}, options=options
                )
            )
        else:
            raise _refuse(f"{document_id!r} is neither a Stripe invoice (in_...) nor a credit note (cn_...)")

    # --- usage --------------------------------------------------------------------------------------------

    async def metered_usage(self, usage_line: UsageLine, start: date, end: date) -> MeteredUsage:
        if end < start:
            raise _refuse(f"usage of {usage_line.contract_id} line {usage_line.line_no}: {end} is before {start}")
        subscription_id = usage_line.subscription_id
        subscription = await _call(lambda: self._client.v1.subscriptions.retrieve_async(subscription_id))
        billed_contract = metadata_value(subscription.metadata, "contract_id")
        if billed_contract not in (None, usage_line.contract_id):
            raise _refuse(
                f"subscription {subscription_id} bills contract {billed_contract}, not {usage_line.contract_id}",
                ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        meter_id = await self._usage_meter()
        customer_id = id_of(subscription.customer)
        summaries = await _call(
            lambda: _every(
                self._client.v1.billing.meters.event_summaries.list_async(
                    meter_id,
                    params={
                        "customer": customer_id,
                        "start_time": unix(start),
                        "end_time": unix(end + timedelta(days=1)),  # exclusive: the day after `end` begins
                        "limit": PAGE,
                    },
                )
            )
        )
        return MeteredUsage(
            contract_id=usage_line.contract_id,
            line_no=usage_line.line_no,
            period_start=start,
            period_end=end,
            quantity=sum((Decimal(str(s.aggregated_value)) for s in summaries), Decimal(0)),
        )


def _subscription_metadata(invoice: stripe.Invoice) -> stripe.StripeObject | None:
    """The subscription's metadata as the invoice snapshotted it when it was created."""
    details = invoice.parent.subscription_details if invoice.parent is not None else None
    return details.metadata if details is not None else None


def _subscription_of(invoice: stripe.Invoice) -> str | None:
    details = invoice.parent.subscription_details if invoice.parent is not None else None
    return id_of(details.subscription) if details is not None else None
