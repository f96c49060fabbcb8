# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""Contract amendments on Stripe: the adapter's BillingAmendmentPort against the emulator, over real HTTP.

The reference contract is subscribed on a test clock from 2026-12-15 and the clock moved to the reference
amendment's effective moment, 2027-07-15 00:00 UTC: 17 of July's 31 days remain."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe

from adapters.errors import PermanentAdapterError, TransientAdapterError
from adapters.ports import BillingAmendmentPort
from adapters.stripe import StripeBilling, StripeSettings
from adapters.stripe.amendments import StripeAmendments
from canonical.amendment import (
    Amendment,
    AmendmentChange,
    CancellationTiming,
    ChangeKind,
    CreditBehavior,
    ModificationFacts,
    amend_contract,
)
from canonical.billing_documents import DocumentKind
from canonical.contract import Contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System
from sandbox.faults import FaultConfig, FaultRule
from sandbox.stripe import StripeEmulatorSettings

from .conftest import API_KEY, Emulator, saga_key, start_emulator, unique_contract
from .test_billing import advance, at, invoices_of

SEATS, USAGE, EXTRA_SEATS, PREMIUM = 1, 3, 4, 5  # contract lines: the original seats and usage, then added ones
JULY_15 = datetime(2027, 7, 15, tzinfo=UTC)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def amendment_port(billing: StripeBilling) -> BillingAmendmentPort:
    """mypy checks here that StripeBilling satisfies the port."""
    return billing


@dataclass
class Subscribed:
    clock_id: str
    billing: StripeBilling
    contract: Contract
    customer_id: str
    subscription_id: str


async def subscribe_until(
    emulator: Emulator, client: stripe.StripeClient, rules: MappingRules, moment: int, timeout: float = 5.0
) -> Subscribed:
    """The reference contract subscribed on a clock frozen at 2026-12-15, then moved to `moment`."""
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2026, 12, 15)})
    billing = StripeBilling(
        StripeSettings(api_key=API_KEY, base_url=emulator.url, test_clock=clock.id, timeout_seconds=timeout)
    )
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-CUS-7", saga_key("customer"))
    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))
    for stop in (at(2027, 2, 1), at(2027, 4, 1), at(2027, 6, 1), at(2027, 7, 1, 2)):
        if stop < moment:
            await advance(client, clock.id, stop)
    await advance(client, clock.id, moment)
    return Subscribed(clock.id, billing, contract, customer.customer_id, ref.subscription_id)


@pytest.fixture
async def subscribed(emulator: Emulator, client: stripe.StripeClient, rules: MappingRules) -> AsyncIterator[Subscribed]:
    running = await subscribe_until(emulator, client, rules, at(2027, 7, 15))
    yield running
    await running.billing.aclose()


def amendment(
    contract: Contract,
    *changes: AmendmentChange,
    credit: CreditBehavior = CreditBehavior.CREDIT_NOTE,
    effective: datetime = JULY_15,
) -> Amendment:
    return Amendment(
        amendment_id=f"006AM{uuid.uuid4().hex[:10]}",
        contract_id=contract.contract_id,
        references_version=contract.version,
        effective=effective,
        changes=changes,
        facts=ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True),
        credit_behavior=credit,
        owner="sam.seller",
    )


def expansion(contract: Contract, rules: MappingRules) -> Amendment:
    """The reference amendment: 100 → 150 seats and the premium module at 2000.00 a month, from 15 July."""
    return amendment(
        contract,
        AmendmentChange(kind=ChangeKind.QUANTITY, line_no=SEATS, quantity=Decimal(150)),
        AmendmentChange(
            kind=ChangeKind.ADD_PRODUCT,
            product_code="PREM-MOD",
            quantity=Decimal(1),
            net_unit_price=usd("2000.00"),
            mapping=rules.product("PREM-MOD"),
        ),
    )


def amendment_key() -> str:
    return f"amendment/{uuid.uuid4().hex[:12]}/billing"


async def items_of(client: stripe.StripeClient, subscription_id: str) -> dict[int, tuple[str, int | None]]:
    """The subscription's items by contract line: (price, quantity)."""
    subscription = await client.v1.subscriptions.retrieve_async(subscription_id)
    return {int(item.price.metadata["line_no"]): (item.price.id, item.quantity) for item in subscription["items"].data}


async def credit_notes_of(client: stripe.StripeClient, customer_id: str) -> list[stripe.CreditNote]:
    listed = await client.v1.credit_notes.list_async(params={"customer": customer_id, "limit": 100})
    return sorted(listed.data, key=lambda n: n.created)


# --- the reference expansion ------------------------------------------------------------------------------------


async def test_the_reference_expansion_is_previewed_then_invoiced_at_once_to_the_cent(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    change = expansion(subscribed.contract, rules)
    amended = amend_contract(subscribed.contract, change)
    port = amendment_port(subscribed.billing)
    before = await invoices_of(client, subscribed.subscription_id)
    items_before = await items_of(client, subscribed.subscription_id)

    preview = await port.preview_amendment(subscribed.subscription_id, amended, change)

    assert await invoices_of(client, subscribed.subscription_id) == before  # a preview changes nothing
    assert await items_of(client, subscribed.subscription_id) == items_before
    expected = {EXTRA_SEATS: usd("2467.74"), PREMIUM: usd("1096.77")}  # 17/31 of a month, each line rounded
    assert {line.line_no: line.amount for line in preview.lines} == expected
    assert preview.total == usd("3564.51") and preview.amendment_id == change.amendment_id
    assert {(line.period_start, line.period_end) for line in preview.lines} == {(date(2027, 7, 15), date(2027, 7, 31))}

    applied = await port.apply_amendment(subscribed.subscription_id, amended, change, amendment_key())

    (invoice_id,) = applied.invoice_ids
    assert applied.credit_note_ids == () and applied.subscription_id == subscribed.subscription_id
    invoice = await client.v1.invoices.retrieve_async(invoice_id)
    assert invoice.status == "open" and invoice.billing_reason == "subscription_update"
    assert sorted(line.amount for line in invoice.lines.data) == [109677, 246774] and invoice.total == 356451
    document = await subscribed.billing.fetch_document(invoice_id)
    assert {line.line_no: line.amount for line in document.lines} == expected  # invoice → revenue reads it back
    assert all(line.proration for line in document.lines)
    items = await items_of(client, subscribed.subscription_id)
    assert items[SEATS] == items_before[SEATS] and items[USAGE] == items_before[USAGE]
    assert (items[EXTRA_SEATS][1], items[PREMIUM][1]) == (50, 1)
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.metadata["contract_version"] == "2"
    assert subscription.cancel_at == at(2028, 1, 1)  # co-terminated: the term end is unchanged


async def test_the_next_cycle_bills_every_seat_and_the_module_in_full(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    change = expansion(subscribed.contract, rules)
    await subscribed.billing.apply_amendment(
        subscribed.subscription_id, amend_contract(subscribed.contract, change), change, amendment_key()
    )

    await advance(client, subscribed.clock_id, at(2027, 8, 1, 2))

    august = await subscribed.billing.fetch_document((await invoices_of(client, subscribed.subscription_id))[-1].id)
    amounts = {line.line_no: line.amount for line in august.lines if line.line_no != USAGE}
    assert amounts == {SEATS: usd("9000.00"), EXTRA_SEATS: usd("4500.00"), PREMIUM: usd("2000.00")}


async def test_applying_twice_with_one_key_changes_nothing_the_second_time(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    change = expansion(subscribed.contract, rules)
    amended = amend_contract(subscribed.contract, change)
    key = amendment_key()

    first = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)
    invoices, items = (
        await invoices_of(client, subscribed.subscription_id),
        await items_of(client, subscribed.subscription_id),
    )
    second = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)

    assert second == first
    assert await invoices_of(client, subscribed.subscription_id) == invoices
    assert await items_of(client, subscribed.subscription_id) == items


async def test_another_amendment_to_the_same_version_or_a_stale_one_is_refused(
    subscribed: Subscribed, rules: MappingRules
) -> None:
    change = expansion(subscribed.contract, rules)
    amended = amend_contract(subscribed.contract, change)
    await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, amendment_key())

    with pytest.raises(PermanentAdapterError) as twice:
        await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, amendment_key())
    version_4 = amended.model_copy(update={"version": 4})
    with pytest.raises(PermanentAdapterError) as stale:
        await subscribed.billing.apply_amendment(subscribed.subscription_id, version_4, change, amendment_key())

    assert twice.value.category is ExceptionCategory.DUPLICATE_DETECTED and "version 2" in twice.value.message
    assert stale.value.category is ExceptionCategory.MISSING_AMENDMENT_REFERENCE


async def test_an_amendment_not_yet_in_effect_is_refused_before_anything_changes(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    change = amendment(
        subscribed.contract,
        AmendmentChange(kind=ChangeKind.QUANTITY, line_no=SEATS, quantity=Decimal(150)),
        effective=datetime(2027, 7, 20, tzinfo=UTC),
    )

    with pytest.raises(PermanentAdapterError) as early:
        await subscribed.billing.apply_amendment(
            subscribed.subscription_id, amend_contract(subscribed.contract, change), change, amendment_key()
        )

    assert "after Stripe's time" in early.value.message
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert "q2c_amended_by" not in subscription.metadata


# --- reversal ---------------------------------------------------------------------------------------------------


async def test_reversing_gives_the_money_back_and_puts_the_items_back(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    change = expansion(subscribed.contract, rules)
    key = amendment_key()
    items_before = await items_of(client, subscribed.subscription_id)
    applied = await subscribed.billing.apply_amendment(
        subscribed.subscription_id, amend_contract(subscribed.contract, change), change, key
    )
    port = amendment_port(subscribed.billing)

    reversed_id = await port.reverse_amendment_applied_by(key)

    assert reversed_id == subscribed.subscription_id
    assert await items_of(client, subscribed.subscription_id) == items_before
    (note,) = await credit_notes_of(client, subscribed.customer_id)
    assert note.invoice == applied.invoice_ids[0] and note.amount == 356451  # the whole proration invoice
    assert note.type == "pre_payment"  # the invoice was still open: it now asks for nothing
    invoice = await client.v1.invoices.retrieve_async(applied.invoice_ids[0])
    assert invoice.amount_remaining == 0 and invoice.status == "paid"
    document = await subscribed.billing.fetch_document(note.id)
    assert document.kind is DocumentKind.CREDIT_NOTE and document.applies_to == invoice.id
    assert {line.line_no: line.amount for line in document.lines} == {
        EXTRA_SEATS: usd("2467.74"),
        PREMIUM: usd("1096.77"),
    }
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.metadata["contract_version"] == "1" and subscription.cancel_at == at(2028, 1, 1)
    assert not {"q2c_amended_by", "q2c_amendment_2", "q2c_amendment_undo"} & set(subscription.metadata.to_dict())

    again = await port.reverse_amendment_applied_by(key)

    assert again == subscribed.subscription_id
    assert len(await credit_notes_of(client, subscribed.customer_id)) == 1
    assert await port.reverse_amendment_applied_by(amendment_key()) is None  # that key applied nothing


async def test_an_amendment_interrupted_half_way_is_reversed_exactly(
    emulator: Emulator, client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    """The price change added its replacement line, then failed to credit the old one: reversing removes the
    replacement (crediting its invoice) and leaves the old line, which was never credited, as it was."""
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.PRICE, line_no=SEATS, net_unit_price=usd("80.00"))
    )
    key = amendment_key()
    items_before = await items_of(client, subscribed.subscription_id)
    emulator.faults.configure(
        FaultConfig(rules=[FaultRule(kind="error", rate=1.0, method="POST", path="/v1/credit_notes", status=500)])
    )
    with pytest.raises(TransientAdapterError):
        await subscribed.billing.apply_amendment(
            subscribed.subscription_id, amend_contract(subscribed.contract, change), change, key
        )
    emulator.faults.configure(FaultConfig())

    await subscribed.billing.reverse_amendment_applied_by(key)

    assert await items_of(client, subscribed.subscription_id) == items_before
    invoices = await invoices_of(client, subscribed.subscription_id)
    (replacement,) = [i for i in invoices if i.billing_reason == "subscription_update"]
    (note,) = await credit_notes_of(client, subscribed.customer_id)
    assert replacement.total == 438710  # 100 seats at 80.00 for 17/31 of July
    assert note.invoice == replacement.id and note.amount == replacement.total


async def test_credit_notes_issued_for_items_never_deleted_are_voided_by_the_reversal(
    client: stripe.StripeClient, subscribed: Subscribed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decrease charged the 80 seats and credited the 100, then stopped before deleting the 100: those are
    still billed, so reversing voids their credit note, and credits the 80 seats' invoice."""
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.QUANTITY, line_no=SEATS, quantity=Decimal(80))
    )
    key = amendment_key()
    items_before = await items_of(client, subscribed.subscription_id)
    july = (await invoices_of(client, subscribed.subscription_id))[-1]
    update = StripeAmendments._update

    async def stops_before_deleting(self: StripeAmendments, subscription_id: str, params: Any, step: str) -> Any:
        if step.endswith("/remove"):
            raise TransientAdapterError(System.BILLING, "the worker stopped here")
        return await update(self, subscription_id, params, step)

    monkeypatch.setattr(StripeAmendments, "_update", stops_before_deleting)
    with pytest.raises(TransientAdapterError):
        await subscribed.billing.apply_amendment(
            subscribed.subscription_id, amend_contract(subscribed.contract, change), change, key
        )
    monkeypatch.setattr(StripeAmendments, "_update", update)
    (unfinished,) = await credit_notes_of(client, subscribed.customer_id)

    await subscribed.billing.reverse_amendment_applied_by(key)

    assert await items_of(client, subscribed.subscription_id) == items_before
    assert unfinished.invoice == july.id and unfinished.amount == 493548
    assert (await client.v1.credit_notes.retrieve_async(unfinished.id)).status == "void"
    assert (await client.v1.invoices.retrieve_async(july.id)).amount_remaining == july.amount_remaining
    (eighty,) = [
        i for i in await invoices_of(client, subscribed.subscription_id) if i.billing_reason == "subscription_update"
    ]
    reversal = [n for n in await credit_notes_of(client, subscribed.customer_id) if n.id != unfinished.id]
    assert [(n.invoice, n.amount) for n in reversal] == [(eighty.id, 394839)]


# --- credits ------------------------------------------------------------------------------------------------------


async def test_a_decrease_bills_the_remaining_seats_and_credits_the_paid_month_with_a_credit_note(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    july = (await invoices_of(client, subscribed.subscription_id))[-1]
    await client.v1.invoices.pay_async(july.id, params={"paid_out_of_band": True})
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.QUANTITY, line_no=SEATS, quantity=Decimal(80))
    )
    amended = amend_contract(subscribed.contract, change)

    preview = await subscribed.billing.preview_amendment(subscribed.subscription_id, amended, change)
    applied = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, amendment_key())

    assert {line.line_no: line.amount for line in preview.lines} == {
        SEATS: usd("-4935.48"),
        EXTRA_SEATS: usd("3948.39"),
    }
    assert preview.total == usd("-987.09")
    (invoice_id,), (note_id,) = applied.invoice_ids, applied.credit_note_ids
    invoice = await subscribed.billing.fetch_document(invoice_id)
    note = await subscribed.billing.fetch_document(note_id)
    assert {line.line_no: line.amount for line in invoice.lines} == {EXTRA_SEATS: usd("3948.39")}
    assert (note.applies_to, note.total) == (july.id, usd("4935.48"))
    assert {line.line_no for line in note.lines} == {SEATS}  # it credits the July seats line
    stripe_note = await client.v1.credit_notes.retrieve_async(note_id)
    assert stripe_note.type == "post_payment"  # July was paid: the credit goes to the customer's balance
    customer = await client.v1.customers.retrieve_async(subscribed.customer_id)
    assert customer.balance == -493548
    items = await items_of(client, subscribed.subscription_id)
    assert SEATS not in items and items[EXTRA_SEATS][1] == 80


async def test_a_price_cut_carried_forward_credits_the_next_cycle_invoice(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    change = amendment(
        subscribed.contract,
        AmendmentChange(kind=ChangeKind.PRICE, line_no=SEATS, net_unit_price=usd("80.00")),
        credit=CreditBehavior.CARRY_FORWARD,
    )

    applied = await subscribed.billing.apply_amendment(
        subscribed.subscription_id, amend_contract(subscribed.contract, change), change, amendment_key()
    )
    await advance(client, subscribed.clock_id, at(2027, 8, 1, 2))

    (invoice_id,) = applied.invoice_ids  # the replacement line is charged at once
    assert applied.credit_note_ids == () and await credit_notes_of(client, subscribed.customer_id) == []
    charged = await subscribed.billing.fetch_document(invoice_id)
    assert {line.line_no: line.amount for line in charged.lines} == {EXTRA_SEATS: usd("4387.10")}
    august = await subscribed.billing.fetch_document((await invoices_of(client, subscribed.subscription_id))[-1].id)
    credits = [line for line in august.lines if line.proration]
    assert [(line.line_no, line.amount) for line in credits] == [(SEATS, usd("-4935.48"))]
    assert (credits[0].period_start, credits[0].period_end) == (date(2027, 7, 15), date(2027, 7, 31))
    full = {line.line_no: line.amount for line in august.lines if not line.proration and line.line_no != USAGE}
    assert full == {EXTRA_SEATS: usd("8000.00")}


async def test_removing_a_product_added_earlier_credits_its_unused_time(
    client: stripe.StripeClient, subscribed: Subscribed, rules: MappingRules
) -> None:
    expanded = expansion(subscribed.contract, rules)
    version_2 = amend_contract(subscribed.contract, expanded)
    await subscribed.billing.apply_amendment(subscribed.subscription_id, version_2, expanded, amendment_key())
    await advance(client, subscribed.clock_id, at(2027, 9, 1, 2))
    await advance(client, subscribed.clock_id, at(2027, 9, 15))
    removal = amendment(
        version_2,
        AmendmentChange(kind=ChangeKind.REMOVE_PRODUCT, line_no=PREMIUM),
        effective=datetime(2027, 9, 15, tzinfo=UTC),
    )

    applied = await subscribed.billing.apply_amendment(
        subscribed.subscription_id, amend_contract(version_2, removal), removal, amendment_key()
    )

    assert applied.invoice_ids == ()
    (note_id,) = applied.credit_note_ids
    note = await subscribed.billing.fetch_document(note_id)
    september = (await invoices_of(client, subscribed.subscription_id))[-1]
    assert note.applies_to == september.id  # the invoice that billed September's module
    assert {line.line_no: line.amount for line in note.lines} == {PREMIUM: usd("1066.67")}  # 16 of 30 days
    assert PREMIUM not in await items_of(client, subscribed.subscription_id)
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.metadata["contract_version"] == "3"


# --- term and cancellation ------------------------------------------------------------------------------------------


async def test_a_term_extension_moves_the_end_and_charges_nothing_now(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.TERM_EXTENSION, term_end=date(2028, 12, 31))
    )
    amended = amend_contract(subscribed.contract, change)
    key = amendment_key()

    preview = await subscribed.billing.preview_amendment(subscribed.subscription_id, amended, change)
    applied = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)

    assert preview.lines == () and preview.total == usd("0.00")
    assert (applied.invoice_ids, applied.credit_note_ids) == ((), ())
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.cancel_at == at(2029, 1, 1) and subscription.metadata["contract_version"] == "2"

    await subscribed.billing.reverse_amendment_applied_by(key)

    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.cancel_at == at(2028, 1, 1)


async def test_an_immediate_cancellation_credits_the_unused_time_with_a_credit_note(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.CANCELLATION, cancellation=CancellationTiming.IMMEDIATE)
    )
    amended = amend_contract(subscribed.contract, change)
    key = amendment_key()

    preview = await subscribed.billing.preview_amendment(subscribed.subscription_id, amended, change)
    applied = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)

    assert {line.line_no: line.amount for line in preview.lines} == {SEATS: usd("-4935.48")}
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.status == "canceled" and subscription.metadata["contract_version"] == "2"
    (note_id,) = applied.credit_note_ids
    note = await subscribed.billing.fetch_document(note_id)
    assert {line.line_no: line.amount for line in note.lines} == {SEATS: usd("4935.48")}
    (final,) = applied.invoice_ids  # July's usage so far, invoiced with the cancellation
    assert (await client.v1.invoices.retrieve_async(final)).total == 0  # no overage by mid-July
    with pytest.raises(PermanentAdapterError) as irreversible:
        await subscribed.billing.reverse_amendment_applied_by(key)
    assert "cannot reactivate" in irreversible.value.message


async def test_an_immediate_cancellation_carried_forward_credits_the_final_invoice(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    change = amendment(
        subscribed.contract,
        AmendmentChange(kind=ChangeKind.CANCELLATION, cancellation=CancellationTiming.IMMEDIATE),
        credit=CreditBehavior.CARRY_FORWARD,
    )

    applied = await subscribed.billing.apply_amendment(
        subscribed.subscription_id, amend_contract(subscribed.contract, change), change, amendment_key()
    )

    (final_id,) = applied.invoice_ids
    assert applied.credit_note_ids == ()
    final = await client.v1.invoices.retrieve_async(final_id)
    assert final.total == -493548 and final.status == "paid" and final.ending_balance == -493548
    customer = await client.v1.customers.retrieve_async(subscribed.customer_id)
    assert customer.balance == -493548  # Stripe keeps the credit on the customer's balance


async def test_a_cancellation_at_period_end_ends_the_subscription_with_the_month(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    change = amendment(
        subscribed.contract, AmendmentChange(kind=ChangeKind.CANCELLATION, cancellation=CancellationTiming.PERIOD_END)
    )
    amended = amend_contract(subscribed.contract, change)

    preview = await subscribed.billing.preview_amendment(subscribed.subscription_id, amended, change)
    applied = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, amendment_key())

    assert preview.lines == () and (applied.invoice_ids, applied.credit_note_ids) == ((), ())
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.cancel_at_period_end and subscription.status == "active"
    await advance(client, subscribed.clock_id, at(2027, 8, 1, 2))
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    assert subscription.status == "canceled" and subscription.ended_at == at(2027, 8, 1)


# --- retries --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["within", "after"])
async def test_a_retry_finishes_what_a_failed_attempt_began(tmp_path: Path, rules: MappingRules, window: str) -> None:
    """The decrease charged its replacement seats, then failed to issue the credit note. Stripe forgets
    idempotency keys after 24 hours (here: after a second); either way the retry finds what the first attempt
    did from the subscription itself: no second charge, the same invoice, the credit note once."""
    ttl = 1 if window == "after" else 24 * 3600
    settings = StripeEmulatorSettings(rate_limit_per_second=500, rate_limit_burst=500, idempotency_ttl_seconds=ttl)
    async for emulator in start_emulator(tmp_path / "stripe.sqlite", rules, settings):
        stripe_client = stripe.StripeClient(
            API_KEY, base_addresses={"api": emulator.url}, http_client=stripe.HTTPXClient(timeout=5)
        )
        subscribed = await subscribe_until(emulator, stripe_client, rules, at(2027, 7, 15))
        change = amendment(
            subscribed.contract, AmendmentChange(kind=ChangeKind.QUANTITY, line_no=SEATS, quantity=Decimal(80))
        )
        amended = amend_contract(subscribed.contract, change)
        key = amendment_key()
        emulator.faults.configure(
            FaultConfig(rules=[FaultRule(kind="error", rate=1.0, method="POST", path="/v1/credit_notes", status=500)])
        )
        with pytest.raises(TransientAdapterError):
            await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)
        emulator.faults.configure(FaultConfig())
        if window == "after":
            await asyncio.sleep(1.5)

        applied = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)
        again = await subscribed.billing.apply_amendment(subscribed.subscription_id, amended, change, key)

        invoices = await invoices_of(stripe_client, subscribed.subscription_id)
        updates = [i.id for i in invoices if i.billing_reason == "subscription_update"]
        assert updates == list(applied.invoice_ids) and len(applied.credit_note_ids) == 1
        assert again == applied
        assert SEATS not in await items_of(stripe_client, subscribed.subscription_id)
        await subscribed.billing.aclose()
