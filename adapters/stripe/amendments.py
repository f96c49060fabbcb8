"""BillingAmendmentPort over Stripe Billing: preview, apply and reverse a contract amendment on its subscription.

- Preview: `POST /v1/invoices/create_preview` with the item changes (`subscription_details`), `always_invoice` at
  `proration_date` = the effective moment. Added lines are priced inline (`price_data`), so a preview creates
  nothing, not even a price; Stripe's proration lines come back as canonical ones.
- Apply, in steps that each carry an idempotency key derived from the saga's and are computed from the
  subscription as it is, so a retry (even after Stripe's 24-hour idempotency window) does only what is missing:
  1. record on the subscription what the change replaces (its items, `cancel_at`, ...) and `q2c_amended_by`;
  2. add the new items, `always_invoice` at the effective moment: the prorated charge is invoiced at once
     (finalized; the invoice is tagged `q2c_created_by`);
  3. delete the ended items. `carry_forward`: `create_prorations`, so the credit waits as pending items for the
     next invoice. `credit_note`: Stripe would turn a negative proration invoice into customer balance, with no
     document saying so; instead the credits are previewed and issued as credit notes against the invoice lines
     that billed the time (adapters/stripe/amendment_credits.py), then the items are deleted without prorations.
     A credit note first reduces what an open invoice asks for; the rest (a paid invoice) credits the customer's
     balance;
  4. a term extension moves `cancel_at`; a cancellation cancels now (`prorate` for carry_forward; credit notes for
     credit_note) or at the period end (`cancel_at_period_end`);
  5. record `q2c_amendment_<n>` = key, `contract_version` = n and the documents: a retry finds it applied and
     returns the same documents.
- Reverse (the latest amendment only, found by `q2c_amended_by`): the items as they were, prorated the other way
  at the same moment (a reversing invoice for items put back, a credit for items taken away, as the amendment
  gave credits), `cancel_at` as it was, the record cleared and `q2c_reversed_by` = key. Stripe cannot reactivate a
  canceled subscription: reversing an immediate cancellation is refused.

Stripe's proration amounts are the truth: q2c computes none itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import stripe

from adapters.errors import NotFoundError
from adapters.stripe import mapping
from adapters.stripe.amendment_credits import CREATED_BY, AmendmentCreditNotes, credits_in
from adapters.stripe.amendment_mapping import (
    ADDED_BY,
    AMENDED_BY,
    CONTRACT_VERSION,
    REVERSED_BY,
    CurrentItem,
    ProrationFacts,
    SubscriptionChange,
    Undo,
    applied_key,
    cleared_undo,
    documents_key,
    inline_price_key,
    item_quantity,
    proration_lines,
    read_undo,
    refuse,
    subscription_change,
    undo_metadata,
)
from adapters.stripe.document_mapping import field_at, id_of, metadata_value
from adapters.stripe.errors import classified
from adapters.stripe.settings import StripeSettings
from canonical.amendment import (
    Amendment,
    AppliedBillingChange,
    BillingPreview,
    CancellationTiming,
    CreditBehavior,
)
from canonical.contract import Contract, ContractLine
from canonical.money import Money, sum_money
from canonical.problems import ExceptionCategory
from canonical.product import LineKind

Params = dict[str, Any]
PriceMaker = Callable[[list[mapping.PriceSpec], str], Awaitable[dict[str, str]]]
PAGE = 100
ENDED = ("canceled", "incomplete_expired")


def _moment(amendment: Amendment) -> int:
    return int(amendment.effective.timestamp())


class StripeAmendments:
    """The amendment side of `StripeBilling` (which delegates to it)."""

    def __init__(
        self,
        client: stripe.StripeClient,
        settings: StripeSettings,
        prices: PriceMaker,
        usage_meter: Callable[[], Awaitable[str]],
    ) -> None:
        self._client = client
        self._settings = settings
        self._prices = prices
        self._usage_meter = usage_meter
        self._notes = AmendmentCreditNotes(client)

    # --- preview ------------------------------------------------------------------------------------------

    async def preview(self, subscription_id: str, amended: Contract, amendment: Amendment) -> BillingPreview:
        subscription = await self._subscription(subscription_id)
        _check_contract(subscription, amended)
        items = await self._items(subscription)
        change = subscription_change(amended, amendment, items)
        at = _moment(amendment)
        details = _preview_details(change, amended, at)
        zero = Money.zero(amended.currency)
        if details is None:
            return BillingPreview(amendment_id=amendment.amendment_id, lines=(), total=zero)
        preview = await self._preview(subscription.id, details)
        line_of_price = {i.price_id: i.line_no for i in items if i.line_no and i.contract_id == amended.contract_id}
        inline = [line for line in change.added if line.kind is LineKind.RECURRING]
        facts = [_facts(line) for line in preview.lines.data]
        lines = proration_lines(facts, at, line_of_price, inline, amended.currency)
        return BillingPreview(
            amendment_id=amendment.amendment_id,
            lines=lines,
            total=sum_money((line.amount for line in lines), amended.currency) if lines else zero,
        )

    async def _preview(self, subscription_id: str, details: Params) -> stripe.Invoice:
        preview = await classified(
            lambda: self._client.v1.invoices.create_preview_async(
                params=cast(Any, {"subscription": subscription_id, "subscription_details": details})
            )
        )
        if preview.lines.has_more:
            raise refuse(f"the preview of {subscription_id}'s change has more lines than Stripe shows on it")
        return preview

    # --- apply --------------------------------------------------------------------------------------------

    async def apply(
        self, subscription_id: str, amended: Contract, amendment: Amendment, key: str
    ) -> AppliedBillingChange:
        subscription = await self._subscription(subscription_id)
        metadata = _metadata(subscription)
        if metadata.get(applied_key(amended.version)) == key:
            return _applied(amendment, subscription.id, metadata.get(documents_key(amended.version), ""))
        _check_contract(subscription, amended)
        _check_version(subscription, metadata, amended.version, key)
        subscription = await self._prepare(subscription, metadata, amended, amendment, key)
        change = subscription_change(amended, amendment, await self._items(subscription))
        at = _moment(amendment)
        if change.cancellation is CancellationTiming.IMMEDIATE:
            subscription = await self._cancel_now(subscription, amendment, key)
        else:
            if change.added:
                subscription = await self._add(subscription, amended, change.added, at, key)
            if change.removed:
                memo = f"Amendment {amendment.amendment_id}: unused time from {amendment.effective_on}"
                await self._remove(subscription, change.removed, at, amendment.credit_behavior, key, memo)
        invoices, notes = await self._documents(await self._subscription(subscription.id), key, change)
        documents = " ".join((*invoices, *notes))
        record: Params = {
            "metadata": {
                applied_key(amended.version): key,
                CONTRACT_VERSION: str(amended.version),
                documents_key(amended.version): documents,
            }
        }
        if change.cancel_at is not None:
            record["cancel_at"] = change.cancel_at
        if change.cancellation is CancellationTiming.PERIOD_END:
            record["cancel_at_period_end"] = True
        await self._update(subscription.id, record, f"{key}/record")
        return _applied(amendment, subscription.id, documents)

    async def _prepare(
        self,
        subscription: stripe.Subscription,
        metadata: dict[str, str],
        amended: Contract,
        amendment: Amendment,
        key: str,
    ) -> stripe.Subscription:
        """Record what the change replaces, once: a retry keeps the first record (its items are the originals)."""
        undo = read_undo(metadata)
        if metadata.get(AMENDED_BY) == key and undo is not None and undo.version == amended.version:
            return subscription
        at = _moment(amendment)
        now = await self._now(subscription)
        if at > now:
            raise refuse(
                f"{amendment.amendment_id} takes effect at {amendment.effective.isoformat()}, after Stripe's time "
                f"({datetime.fromtimestamp(now, UTC).isoformat()}): apply it once it has taken effect"
            )
        items = await self._items(subscription)
        record = Undo(
            version=amended.version,
            amendment_id=amendment.amendment_id,
            effective=at,
            credit=amendment.credit_behavior,
            items=tuple((item.price_id, item.quantity) for item in items),
            cancel_at=subscription.cancel_at,
            cancel_at_period_end=bool(subscription.cancel_at_period_end),
        )
        return await self._update(subscription.id, {"metadata": undo_metadata(record, key)}, f"{key}/prepare")

    async def _add(
        self, subscription: stripe.Subscription, amended: Contract, lines: tuple[ContractLine, ...], at: int, key: str
    ) -> stripe.Subscription:
        specs = []
        for line in lines:
            if line.kind is LineKind.USAGE:
                specs.append(mapping.usage_price(amended, line, await self._usage_meter(), key))
            else:
                assert line.net_unit_price is not None  # recurring lines always have one
                specs.append(mapping.recurring_price(amended, line, line.net_unit_price, f"line-{line.line_no}", key))
        price_ids = await self._prices(specs, key)
        items = [_new_item(price_ids[f"line-{line.line_no}"], item_quantity(line), {ADDED_BY: key}) for line in lines]
        return await self._change_items(subscription, items, "always_invoice", at, key, f"{key}/add")

    async def _change_items(
        self, subscription: stripe.Subscription, items: list[Params], behavior: str, at: int, key: str, step: str
    ) -> stripe.Subscription:
        params: Params = {"items": items, "proration_behavior": behavior}
        if behavior != "none":
            params["proration_date"] = at
        updated = await self._update(subscription.id, params, step)
        invoice = updated.latest_invoice
        if invoice is not None and id_of(invoice) != _id_or_none(subscription.latest_invoice):
            await self._claim_invoice(id_of(invoice), key)
        return updated

    async def _remove(
        self,
        subscription: stripe.Subscription,
        removed: tuple[CurrentItem, ...],
        at: int,
        behavior: CreditBehavior,
        key: str,
        memo: str,
    ) -> None:
        deletions = [{"id": item.item_id, "deleted": True} for item in removed]
        if behavior is CreditBehavior.CARRY_FORWARD:
            await self._change_items(subscription, deletions, "create_prorations", at, key, f"{key}/remove")
            return
        # The credits can only be computed while the items exist: credit notes first, then the deletion
        await self._credit_notes(subscription, {"items": deletions}, removed, at, key, memo)
        await self._change_items(subscription, deletions, "none", at, key, f"{key}/remove")

    async def _cancel_now(
        self, subscription: stripe.Subscription, amendment: Amendment, key: str
    ) -> stripe.Subscription:
        if subscription.status in ENDED:
            return subscription  # a retry: canceled by the first attempt
        items = await self._items(subscription)
        metered = any(item.quantity is None for item in items)
        if amendment.credit_behavior is CreditBehavior.CREDIT_NOTE:
            memo = f"Amendment {amendment.amendment_id}: canceled from {amendment.effective_on}"
            await self._credit_notes(subscription, {"cancel_now": True}, tuple(items), _moment(amendment), key, memo)
            params: Params = {"invoice_now": metered, "prorate": False}
        else:
            params = {"invoice_now": True, "prorate": True}
        # No idempotency key: Stripe treats DELETE as idempotent by itself (a second cancel is refused, and a
        # retry sees the subscription canceled above)
        canceled = await classified(
            lambda: self._client.v1.subscriptions.cancel_async(subscription.id, params=cast(Any, params))
        )
        if canceled.latest_invoice is not None and id_of(canceled.latest_invoice) != _id_or_none(
            subscription.latest_invoice
        ):
            await self._claim_invoice(id_of(canceled.latest_invoice), key)
        return canceled

    # --- credit notes ---------------------------------------------------------------------------------------

    async def _credit_notes(
        self,
        subscription: stripe.Subscription,
        change: Params,
        items: tuple[CurrentItem, ...],
        at: int,
        key: str,
        memo: str,
    ) -> None:
        """Issue, as credit notes, the credits Stripe's prorations of `change` at `at` would give."""
        preview = await self._preview(
            subscription.id, {**change, "proration_behavior": "always_invoice", "proration_date": at}
        )
        await self._notes.issue(subscription, credits_in(preview, items), key, memo)

    # --- documents ------------------------------------------------------------------------------------------

    async def _claim_invoice(self, invoice_id: str, key: str) -> None:
        """Finalize the invoice a change made (Stripe may leave a draft for an hour) and tag it with the key."""
        invoice = await classified(lambda: self._client.v1.invoices.retrieve_async(invoice_id))
        if invoice.status == "draft":
            await classified(
                lambda: self._client.v1.invoices.finalize_invoice_async(
                    invoice_id, options={"idempotency_key": f"{key}/finalize/{invoice_id}"}
                )
            )
        if metadata_value(invoice.metadata, CREATED_BY) != key:
            await classified(
                lambda: self._client.v1.invoices.update_async(
                    invoice_id,
                    params={"metadata": {CREATED_BY: key}},
                    options={"idempotency_key": f"{key}/claim/{invoice_id}"},
                )
            )

    async def _documents(
        self, subscription: stripe.Subscription, key: str, change: SubscriptionChange
    ) -> tuple[list[str], list[str]]:
        """The invoices and credit notes this key made, oldest first. An invoice a crashed attempt made but did
        not tag yet is recognised by its prorations of items the key added (or as the final invoice of a
        cancellation) and tagged now."""
        listed = await classified(
            lambda: self._client.v1.invoices.list_async(params={"subscription": subscription.id, "limit": PAGE})
        )
        added = {item.item_id for item in await self._items(subscription) if item.added_by == key}
        invoices = []
        for invoice in sorted(listed.data, key=lambda i: (i.created, i.id)):
            if metadata_value(invoice.metadata, CREATED_BY) == key:
                invoices.append(invoice.id)
            elif _made_by_change(invoice, subscription, added, change):
                await self._claim_invoice(invoice.id, key)
                invoices.append(invoice.id)
        return invoices, [note.id for note in await self._notes.issued_by(subscription, key)]

    # --- reverse --------------------------------------------------------------------------------------------

    async def reverse(self, key: str) -> str | None:
        subscription = await self._amended_by(key)
        if subscription is None:
            return None
        metadata = _metadata(subscription)
        if metadata.get(AMENDED_BY) != key:
            return subscription.id  # reversed already (`q2c_reversed_by` names the key)
        undo = read_undo(metadata)
        if undo is None:
            raise refuse(f"{subscription.id} names amendment {key} but keeps no record of what it replaced")
        if subscription.status in ENDED:
            raise refuse(
                f"{subscription.id} is {subscription.status}: Stripe cannot reactivate a canceled subscription, "
                "so its cancellation cannot be reversed (bill a new subscription instead)",
                ExceptionCategory.SYSTEM_REJECTED,
            )
        reverse_key = f"{key}/reverse"
        items = await self._items(subscription)
        await self._notes.void_unfinished(subscription, items, key)
        at = max(undo.effective, self._period_start(subscription))
        wanted = {price for price, _ in undo.items}
        present = {item.price_id for item in items}
        put_back = [_new_item(price, quantity, {}) for price, quantity in undo.items if price not in present]
        taken_away = tuple(item for item in items if item.price_id not in wanted)
        if put_back:
            subscription = await self._change_items(
                subscription, put_back, "always_invoice", at, reverse_key, f"{reverse_key}/add"
            )
        if taken_away:
            memo = f"Reversal of amendment {undo.amendment_id}"
            await self._remove(subscription, taken_away, at, undo.credit, reverse_key, memo)
        restore: Params = {
            "metadata": {
                **cleared_undo(),
                applied_key(undo.version): "",
                documents_key(undo.version): "",
                CONTRACT_VERSION: str(undo.version - 1),
                REVERSED_BY: key,
            },
            "cancel_at": undo.cancel_at if undo.cancel_at is not None else "",
            "cancel_at_period_end": undo.cancel_at_period_end,
        }
        await self._update(subscription.id, restore, f"{reverse_key}/record")
        return subscription.id

    async def _amended_by(self, key: str) -> stripe.Subscription | None:
        """The subscription whose latest amendment (applied or reversed) is `key`: Stripe Search, then, because
        search lags behind writes, the recent `customer.subscription.updated` events (a consistent list)."""
        value = mapping.search_value(key)
        query = f"metadata['{AMENDED_BY}']:'{value}' OR metadata['{REVERSED_BY}']:'{value}'"
        found = await classified(
            lambda: self._client.v1.subscriptions.search_async(params={"query": query, "limit": PAGE})
        )
        candidates = [s.id for s in found.data]
        if not candidates and self._settings.search_fallback_minutes > 0:
            events = await classified(
                lambda: self._client.v1.events.list_async(
                    params={"type": "customer.subscription.updated", "limit": PAGE}
                )
            )
            candidates = list(dict.fromkeys(id_of(e.data.object) for e in events.data if _names(e.data.object, key)))
        for subscription_id in candidates:
            try:
                subscription = await self._subscription(subscription_id)
            except NotFoundError:
                continue
            if _names(subscription, key):
                return subscription
        return None

    # --- Stripe reads and writes ----------------------------------------------------------------------------

    async def _subscription(self, subscription_id: str) -> stripe.Subscription:
        return await classified(lambda: self._client.v1.subscriptions.retrieve_async(subscription_id))

    async def _update(self, subscription_id: str, params: Params, idempotency_key: str) -> stripe.Subscription:
        return await classified(
            lambda: self._client.v1.subscriptions.update_async(
                subscription_id, params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        )

    async def _items(self, subscription: stripe.Subscription) -> list[CurrentItem]:
        listed = subscription["items"]
        items = list(listed.data)
        if listed.has_more:
            page = await classified(
                lambda: self._client.v1.subscription_items.list_async(
                    params={"subscription": subscription.id, "limit": PAGE}
                )
            )
            items = [item async for item in page.auto_paging_iter()]
        return [_current(item) for item in items]

    @staticmethod
    def _period_start(subscription: stripe.Subscription) -> int:
        listed = subscription["items"].data
        return max((item.current_period_start for item in listed), default=0)

    async def _now(self, subscription: stripe.Subscription) -> int:
        """Stripe's time for the subscription: its test clock's when it lives on one."""
        clock = subscription.test_clock
        if clock is None:
            return int(time.time())
        clock_id = id_of(clock)
        frozen = await classified(lambda: self._client.v1.test_helpers.test_clocks.retrieve_async(clock_id))
        return int(frozen.frozen_time)


# --- pure helpers ---------------------------------------------------------------------------------------------


def _metadata(subscription: stripe.Subscription) -> dict[str, str]:
    metadata = subscription.metadata
    values: dict[str, Any] = metadata.to_dict() if metadata is not None else {}
    return {str(k): str(v) for k, v in values.items()}


def _names(subscription: Any, key: str) -> bool:
    """Whether the subscription's metadata names `key` as its latest amendment, applied or reversed."""
    return key in (field_at(subscription, "metadata", AMENDED_BY), field_at(subscription, "metadata", REVERSED_BY))


def _id_or_none(value: Any) -> str | None:
    return None if value is None else id_of(value)


def _check_contract(subscription: stripe.Subscription, amended: Contract) -> None:
    billed = _metadata(subscription).get("contract_id")
    if billed not in (None, amended.contract_id):
        raise refuse(
            f"subscription {subscription.id} bills contract {billed}, not {amended.contract_id}",
            ExceptionCategory.MASTER_DATA_MISMATCH,
        )
    if subscription.schedule is not None:
        raise refuse(
            f"subscription {subscription.id} follows a schedule (a ramp): amending it needs a schedule change, "
            "which q2c does not make"
        )


def _check_version(subscription: stripe.Subscription, metadata: dict[str, str], version: int, key: str) -> None:
    """Version n + 1 applies to a subscription billing version n, once, by one key."""
    current = metadata.get(CONTRACT_VERSION)
    if current is not None and current.isdigit() and int(current) >= version:
        raise refuse(
            f"subscription {subscription.id} already bills contract version {current}; amendment {key} makes "
            f"version {version}",
            ExceptionCategory.DUPLICATE_DETECTED,
        )
    if current is not None and current.isdigit() and int(current) != version - 1:
        raise refuse(
            f"subscription {subscription.id} bills contract version {current}, not {version - 1}: the amendment "
            "was made against another version",
            ExceptionCategory.MISSING_AMENDMENT_REFERENCE,
        )
    undo = read_undo(metadata)
    other = metadata.get(AMENDED_BY)
    if undo is not None and undo.version == version and other not in (None, key):
        raise refuse(
            f"subscription {subscription.id} is being changed to version {version} by another amendment ({other})",
            ExceptionCategory.DUPLICATE_DETECTED,
        )
    if subscription.status in ENDED and other != key:
        raise refuse(f"subscription {subscription.id} is {subscription.status}: there is nothing to amend")


def _preview_details(change: SubscriptionChange, amended: Contract, at: int) -> Params | None:
    if change.cancellation is CancellationTiming.IMMEDIATE:
        return {"cancel_now": True, "proration_behavior": "always_invoice", "proration_date": at}
    items: list[Params] = []
    for line in change.added:
        if line.kind is LineKind.RECURRING:  # metered items are not prorated: nothing to preview
            product, unit, quantity = inline_price_key(line)
            months = mapping.MONTHS[line.billing_frequency]
            interval = {"interval": "year"} if months == 12 else {"interval": "month", "interval_count": months}
            price_data = {
                "currency": amended.currency.lower(),
                "product": product,
                "recurring": interval,
                "unit_amount_decimal": format(unit, "f"),
            }
            items.append({"price_data": price_data, "quantity": quantity})
    items += [{"id": item.item_id, "deleted": True} for item in change.removed]
    if not items:
        return None
    return {"items": items, "proration_behavior": "always_invoice", "proration_date": at}


def _new_item(price_id: str, quantity: int | None, metadata: dict[str, str]) -> Params:
    item: Params = {"price": price_id}
    if quantity is not None:
        item["quantity"] = quantity
    if metadata:
        item["metadata"] = metadata
    return item


def _current(item: stripe.SubscriptionItem) -> CurrentItem:
    price = item.price
    metered = field_at(price, "recurring", "usage_type") == "metered"
    line_no = metadata_value(price.metadata, "line_no")
    return CurrentItem(
        item_id=item.id,
        price_id=price.id,
        quantity=None if metered else item.quantity,
        contract_id=metadata_value(price.metadata, "contract_id"),
        line_no=int(line_no) if line_no is not None and line_no.isdigit() else None,
        product_code=metadata_value(price.metadata, "product_code"),
        added_by=metadata_value(item.metadata, ADDED_BY),
    )


def _facts(line: stripe.InvoiceLineItem) -> ProrationFacts:
    details = field_at(line, "parent", "subscription_item_details") or field_at(line, "parent", "invoice_item_details")
    price = field_at(line, "pricing", "price_details", "price")
    unit = field_at(line, "pricing", "unit_amount_decimal")
    return ProrationFacts(
        description=line.description or "",
        amount_minor=line.amount,
        period=(line.period.start, line.period.end),
        proration=bool(field_at(details, "proration")),
        price_id=None if price is None else id_of(price),
        product_id=field_at(line, "pricing", "price_details", "product"),
        unit_amount_decimal=None if unit is None else str(unit),  # stripe-python reads it as a Decimal
        quantity=line.quantity,
        subscription_item=field_at(line, "parent", "subscription_item_details", "subscription_item"),
    )


def _made_by_change(
    invoice: stripe.Invoice, subscription: stripe.Subscription, added: set[str], change: SubscriptionChange
) -> bool:
    if invoice.billing_reason == "subscription_update" and added:
        items = {
            field_at(line, "parent", "subscription_item_details", "subscription_item") for line in invoice.lines.data
        }
        return bool(items & added)
    canceled_at = subscription.canceled_at
    return (
        change.cancellation is CancellationTiming.IMMEDIATE
        and canceled_at is not None
        and invoice.id == _id_or_none(subscription.latest_invoice)
        and invoice.created >= canceled_at
    )


def _applied(amendment: Amendment, subscription_id: str, documents: str) -> AppliedBillingChange:
    ids = documents.split()
    return AppliedBillingChange(
        amendment_id=amendment.amendment_id,
        subscription_id=subscription_id,
        invoice_ids=tuple(i for i in ids if i.startswith("in_")),
        credit_note_ids=tuple(i for i in ids if i.startswith("cn_")),
    )
