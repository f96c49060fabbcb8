"""Credits of an amendment issued as Stripe credit notes (`credit_behavior = credit_note`).

Stripe gives a downgrade's credit as a negative proration invoice, which it turns into customer balance: no
document says what was credited. q2c asks Stripe for the prorations instead (a preview at the effective moment),
and issues each item's credit as a credit note line against the invoice line that billed that time (the credit
proration's `credited_items`; without one, a custom line naming the contract line, on the subscription's latest
invoice). One credit note per credited invoice, tagged `q2c_created_by` = the key and `q2c_credited_items` = the
subscription items it credits, so a retry issues none twice.
"""

from __future__ import annotations

from typing import Any, cast

import stripe

from adapters.stripe.amendment_mapping import (
    Credit,
    CurrentItem,
    credit_note_lines,
    post_payment_part,
    refuse,
)
from adapters.stripe.document_mapping import field_at, id_of, metadata_value
from adapters.stripe.errors import classified

CREATED_BY = "q2c_created_by"
CREDITED_ITEMS = "q2c_credited_items"
PAGE = 100


def credits_in(preview: stripe.Invoice, items: tuple[CurrentItem, ...]) -> list[Credit]:
    """The credit prorations of `items` on a preview invoice."""
    by_id = {item.item_id: item for item in items}
    credits = []
    for line in preview.lines.data:
        details = field_at(line, "parent", "subscription_item_details")
        item = by_id.get(field_at(details, "subscription_item") or "")
        if item is None or line.amount >= 0 or not field_at(details, "proration"):
            continue
        credited = field_at(details, "proration_details", "credited_items")
        invoice = field_at(credited, "invoice")
        credits.append(
            Credit(
                item=item,
                amount=-line.amount,
                invoice_id=None if invoice is None else id_of(invoice),
                invoice_lines=tuple(field_at(credited, "invoice_line_items") or ()),
                description=line.description or "",
            )
        )
    return credits


class AmendmentCreditNotes:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def issue(self, subscription: stripe.Subscription, credits: list[Credit], key: str, memo: str) -> None:
        issued = {id_of(note.invoice) for note in await self.issued_by(subscription, key)}
        groups: dict[str, list[Credit]] = {}
        for credit in credits:
            invoice_id = credit.invoice_id or await self._latest_billed_invoice(subscription)
            groups.setdefault(invoice_id, []).append(credit)
        for invoice_id, group in groups.items():
            if invoice_id not in issued:
                await self._issue(invoice_id, group, key, memo)

    async def issued_by(self, subscription: stripe.Subscription, key: str) -> list[stripe.CreditNote]:
        """The credit notes `key` issued to the subscription's customer, oldest first."""
        customer = id_of(subscription.customer)
        listed = await classified(
            lambda: self._client.v1.credit_notes.list_async(params={"customer": customer, "limit": PAGE})
        )
        mine = [note for note in listed.data if metadata_value(note.metadata, CREATED_BY) == key]
        return sorted(mine, key=lambda note: (note.created, note.id))

    async def void_unfinished(self, subscription: stripe.Subscription, items: list[CurrentItem], key: str) -> None:
        """Void the credit notes `key` issued for items still on the subscription: the amendment stopped before
        deleting them, so their time is still billed (and putting the subscription back charges nothing for it)."""
        present = {item.item_id for item in items}
        for note in await self.issued_by(subscription, key):
            credited = set((metadata_value(note.metadata, CREDITED_ITEMS) or "").split())
            if note.status == "issued" and credited & present:
                await classified(
                    lambda n=note: self._client.v1.credit_notes.void_credit_note_async(  # type: ignore[misc]
                        n.id, options={"idempotency_key": f"{key}/void/{n.id}"}
                    )
                )

    async def _issue(self, invoice_id: str, credits: list[Credit], key: str, memo: str) -> None:
        invoice = await classified(lambda: self._client.v1.invoices.retrieve_async(invoice_id))
        if invoice.status not in ("open", "paid"):
            raise refuse(f"invoice {invoice_id} is {invoice.status}: a credit note needs an open or paid invoice")
        amounts = {line.id: line.amount for line in await self._invoice_lines(invoice_id)}
        total = sum(credit.amount for credit in credits)
        params: dict[str, Any] = {
            "invoice": invoice_id,
            "lines": [line for credit in credits for line in credit_note_lines(credit, amounts)],
            "reason": "order_change",
            "memo": memo,
            "metadata": {CREATED_BY: key, CREDITED_ITEMS: " ".join(c.item.item_id for c in credits)},
        }
        if post_payment := post_payment_part(total, invoice.status, invoice.amount_remaining):
            params["credit_amount"] = post_payment
        await classified(
            lambda: self._client.v1.credit_notes.create_async(
                params=cast(Any, params), options={"idempotency_key": f"{key}/credit-note/{invoice_id}"}
            )
        )

    async def _latest_billed_invoice(self, subscription: stripe.Subscription) -> str:
        listed = await classified(
            lambda: self._client.v1.invoices.list_async(params={"subscription": subscription.id, "limit": PAGE})
        )
        billed = [i for i in listed.data if i.status in ("open", "paid") and i.total > 0]
        if not billed:
            raise refuse(f"{subscription.id} has no open or paid invoice to issue a credit note against")
        return max(billed, key=lambda i: i.created).id

    async def _invoice_lines(self, invoice_id: str) -> list[stripe.InvoiceLineItem]:
        page = await classified(
            lambda: self._client.v1.invoices.line_items.list_async(invoice_id, params={"limit": PAGE})
        )
        return [line async for line in page.auto_paging_iter()]
