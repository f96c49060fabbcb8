# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""Invoice → revenue on Stripe: the adapter's BillingDocumentsPort against the emulator, over real HTTP.

A reference contract is subscribed through `StripeBilling.create_subscription` on a test clock; the clock then
moves so Stripe drafts and finalizes invoices, and the adapter reads them back in q2c's terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import stripe

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.ports import BillingDocumentsPort
from adapters.stripe import StripeBilling, StripeSettings
from canonical.billing_documents import DocumentKind, UsageLine
from canonical.contract import Contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory
from sandbox.stripe import objects

from .conftest import API_KEY, Emulator, saga_key, unique_contract
from .test_billing import advance, at, invoices_of, use

SEATS, ONBOARDING, USAGE = 1, 2, 3  # the reference contract's lines


def documents_port(billing: StripeBilling) -> BillingDocumentsPort:
    """mypy checks here that StripeBilling satisfies the port."""
    return billing


@dataclass
class Subscribed:
    clock_id: str
    billing: StripeBilling
    contract: Contract
    customer_id: str
    subscription_id: str


@pytest.fixture
async def subscribed(emulator: Emulator, client: stripe.StripeClient, rules: MappingRules) -> AsyncIterator[Subscribed]:
    """The reference contract (from 2027-01-01) subscribed on a clock frozen at 2026-12-15."""
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2026, 12, 15)})
    billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url, test_clock=clock.id))
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-CUS-7", saga_key("customer"))
    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))
    yield Subscribed(clock.id, billing, contract, customer.customer_id, ref.subscription_id)
    await billing.aclose()


async def _through_february(client: stripe.StripeClient, subscribed: Subscribed) -> list[stripe.Invoice]:
    """January's 800k and February's 1.2M API calls reported; the clock at 2027-03-01 02:00 (March invoiced)."""
    await advance(client, subscribed.clock_id, at(2027, 1, 20))
    await use(client, subscribed.customer_id, 800000, at(2027, 1, 10), f"{subscribed.customer_id}/jan")
    await advance(client, subscribed.clock_id, at(2027, 2, 20))
    await use(client, subscribed.customer_id, 1200000, at(2027, 2, 10), f"{subscribed.customer_id}/feb")
    await advance(client, subscribed.clock_id, at(2027, 3, 1, 2))
    return await invoices_of(client, subscribed.subscription_id)


# --- invoices ---------------------------------------------------------------------------------------------


async def test_an_invoice_maps_each_line_to_its_contract_line(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    march = (await _through_february(client, subscribed))[-1]
    port = documents_port(subscribed.billing)

    document = await port.fetch_document(march.id)

    contract = subscribed.contract
    assert (document.document_id, document.kind, document.number) == (march.id, DocumentKind.INVOICE, march.number)
    assert (document.contract_id, document.subscription_id) == (contract.contract_id, subscribed.subscription_id)
    assert document.billing_customer_id == subscribed.customer_id and document.erp_customer_id == "ERP-CUS-7"
    assert (document.crm_account_id, document.legal_entity) == (contract.customer.crm_account_id, "US01")
    assert (document.currency, document.issued_on, document.applies_to) == ("USD", date(2027, 3, 1), None)
    assert document.total == Money.of("9400.00", "USD")
    lines = {line.line_no: line for line in document.lines}
    assert set(lines) == {SEATS, USAGE}
    seats, usage = lines[SEATS], lines[USAGE]
    assert (seats.obligation_id, seats.product_code) == (f"{contract.contract_id}#{SEATS}", "PLAT-SEAT")
    assert (seats.amount, seats.quantity) == (Money.of("9000.00", "USD"), Decimal(100))
    assert (seats.period_start, seats.period_end) == (date(2027, 3, 1), date(2027, 3, 31))  # in advance
    assert (usage.product_code, usage.amount, usage.quantity) == (
        "API-OVG",
        Money.of("400.00", "USD"),
        Decimal(1200000),
    )
    assert (usage.period_start, usage.period_end) == (date(2027, 2, 1), date(2027, 2, 28))  # in arrears
    assert not seats.proration and not usage.proration
    assert {line.line_id for line in document.lines} == {line.id for line in march.lines.data}


async def test_the_first_invoice_bills_the_one_time_fee_on_its_day_and_zero_lines_are_kept(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    first, january = (await invoices_of(client, subscribed.subscription_id))[0], None
    await advance(client, subscribed.clock_id, at(2027, 1, 1, 2))
    january = (await invoices_of(client, subscribed.subscription_id))[-1]

    onboarding = await subscribed.billing.fetch_document(first.id)
    seats_and_no_usage = await subscribed.billing.fetch_document(january.id)

    (fee,) = onboarding.lines
    assert (fee.line_no, fee.amount, onboarding.total) == (ONBOARDING, Money.of("15000.00", "USD"), fee.amount)
    assert (fee.period_start, fee.period_end, onboarding.issued_on) == (date(2026, 12, 15),) * 3
    amounts = {line.line_no: line.amount for line in seats_and_no_usage.lines}
    assert amounts == {SEATS: Money.of("9000.00", "USD"), USAGE: Money.zero("USD")}
    assert seats_and_no_usage.total == Money.of("9000.00", "USD")


async def test_an_invoice_with_more_lines_than_one_page_is_read_whole(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    """Stripe shows 10 lines on the invoice; the rest come from its lines endpoint, page by page."""
    await advance(client, subscribed.clock_id, at(2027, 1, 10))
    subscription = await client.v1.subscriptions.retrieve_async(subscribed.subscription_id)
    seats = next(i for i in subscription["items"].data if i.price.metadata["line_no"] == str(SEATS))
    for quantity in range(101, 113):  # each change prorates: two pending lines apiece
        await client.v1.subscriptions.update_async(
            subscribed.subscription_id, params={"items": [{"id": seats.id, "quantity": quantity}]}
        )
    await advance(client, subscribed.clock_id, at(2027, 2, 1, 2))
    february = (await invoices_of(client, subscribed.subscription_id))[-1]

    document = await subscribed.billing.fetch_document(february.id)

    assert february.lines.has_more and len(document.lines) == 2 + 2 * 12
    assert sum(1 for line in document.lines if line.proration) == 24
    assert {line.line_no for line in document.lines if line.proration} == {SEATS}
    assert document.total == Money.from_minor_units(february.total, "USD")


async def test_a_draft_or_void_invoice_is_not_a_billing_document(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    await advance(client, subscribed.clock_id, at(2027, 1, 1))  # the cycle invoice is drafted; finalized at 01:00
    draft = (await invoices_of(client, subscribed.subscription_id))[-1]
    first = (await invoices_of(client, subscribed.subscription_id))[0]
    await client.v1.invoices.void_invoice_async(first.id)

    with pytest.raises(PermanentAdapterError) as drafted:
        await subscribed.billing.fetch_document(draft.id)
    with pytest.raises(PermanentAdapterError) as voided:
        await subscribed.billing.fetch_document(first.id)

    assert draft.status == "draft" and f"invoice {draft.id} is draft" in drafted.value.message
    assert f"invoice {first.id} is void" in voided.value.message
    assert drafted.value.category is ExceptionCategory.INVALID_DATA and not isinstance(drafted.value, NotFoundError)


async def test_an_unknown_document_is_not_found(billing: StripeBilling) -> None:
    with pytest.raises(NotFoundError):
        await billing.fetch_document("in_doesnotexist")
    with pytest.raises(NotFoundError):
        await billing.fetch_document("cn_doesnotexist")
    with pytest.raises(PermanentAdapterError) as neither:
        await billing.fetch_document("pi_123")
    assert "neither a Stripe invoice" in neither.value.message


async def test_a_line_whose_price_has_no_contract_line_is_a_missing_mapping(
    client: stripe.StripeClient, billing: StripeBilling
) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2027, 3, 1)})
    customer = await client.v1.customers.create_async(params={"name": "Hand Made Ltd", "test_clock": clock.id})
    price = await client.v1.prices.create_async(
        params={
            "product": "plat_seat_monthly",
            "currency": "usd",
            "unit_amount": 9000,
            "recurring": {"interval": "month"},
        }
    )
    subscription = await client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id, "quantity": 3}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    invoice = await client.v1.invoices.retrieve_async(subscription.latest_invoice)

    with pytest.raises(PermanentAdapterError) as raised:
        await billing.fetch_document(invoice.id)

    assert raised.value.category is ExceptionCategory.MAPPING_MISSING
    assert invoice.id in raised.value.message and invoice.lines.data[0].id in raised.value.message
    goodwill: Any = {"contract_id": "CTR-hand", "line_no": "1", "product_code": "PLAT-SEAT"}
    note = await client.v1.credit_notes.create_async(
        params={
            "invoice": invoice.id,
            "lines": [{"type": "custom_line_item", "unit_amount": 500, "description": "sorry", "metadata": goodwill}],
        }
    )
    credited = await billing.fetch_document(note.id)  # maps: it credits no unmapped line
    assert (credited.contract_id, credited.total) == ("CTR-hand", Money.of("5.00", "USD"))


# --- credit notes -----------------------------------------------------------------------------------------


async def test_a_credit_note_bills_back_the_lines_it_credits_and_applies_to_its_invoice(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    march = (await _through_february(client, subscribed))[-1]
    seats = next(line for line in march.lines.data if line.pricing.price_details.product == "plat_seat_monthly")
    note = await client.v1.credit_notes.create_async(
        params={
            "invoice": march.id,
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": seats.id, "amount": 90000},
                {
                    "type": "custom_line_item",
                    "unit_amount": 5000,
                    "description": "Goodwill on API calls",
                    "metadata": {
                        "contract_id": subscribed.contract.contract_id,
                        "line_no": "3",
                        "product_code": "API-OVG",
                    },
                },
            ],
            "reason": "order_change",
        }
    )

    document = await subscribed.billing.fetch_document(note.id)

    assert (document.kind, document.applies_to, document.number) == (DocumentKind.CREDIT_NOTE, march.id, note.number)
    assert (document.contract_id, document.subscription_id) == (
        subscribed.contract.contract_id,
        subscribed.subscription_id,
    )
    assert document.erp_customer_id == "ERP-CUS-7" and document.issued_on == date(2027, 3, 1)
    assert document.total == Money.of("950.00", "USD")
    credited = {line.line_no: line for line in document.lines}
    assert credited[SEATS].amount == Money.of("900.00", "USD")  # positive: what is credited back
    assert (credited[SEATS].period_start, credited[SEATS].period_end) == (date(2027, 3, 1), date(2027, 3, 31))
    assert (credited[USAGE].amount, credited[USAGE].description) == (Money.of("50.00", "USD"), "Goodwill on API calls")
    assert credited[USAGE].period_start == credited[USAGE].period_end == date(2027, 3, 1)


async def test_a_custom_credit_line_without_a_contract_line_or_a_void_note_is_refused(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    first = (await invoices_of(client, subscribed.subscription_id))[0]
    custom = await client.v1.credit_notes.create_async(
        params={"invoice": first.id, "lines": [{"type": "custom_line_item", "unit_amount": 100, "description": "x"}]}
    )
    voided = await client.v1.credit_notes.create_async(params={"invoice": first.id, "amount": 200})
    await client.v1.credit_notes.void_credit_note_async(voided.id)

    with pytest.raises(PermanentAdapterError) as unmapped:
        await subscribed.billing.fetch_document(custom.id)
    with pytest.raises(PermanentAdapterError) as void:
        await subscribed.billing.fetch_document(voided.id)

    assert unmapped.value.category is ExceptionCategory.MAPPING_MISSING and custom.id in unmapped.value.message
    assert f"credit note {voided.id} is void" in void.value.message


# --- payments ---------------------------------------------------------------------------------------------


async def test_a_paid_invoice_has_its_payment_and_an_open_one_has_none(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    march = (await _through_february(client, subscribed))[-1]
    seats = next(line for line in march.lines.data if line.pricing.price_details.product == "plat_seat_monthly")
    await client.v1.credit_notes.create_async(
        params={
            "invoice": march.id,
            "lines": [{"type": "invoice_line_item", "invoice_line_item": seats.id, "amount": 40000}],
        }
    )

    with pytest.raises(PermanentAdapterError) as unpaid:
        await subscribed.billing.fetch_payment(march.id)
    await advance(client, subscribed.clock_id, at(2027, 3, 12, 9))
    await client.v1.invoices.pay_async(march.id, params={"paid_out_of_band": True})
    payment = await subscribed.billing.fetch_payment(march.id)
    again = await subscribed.billing.fetch_payment(march.id)

    assert f"invoice {march.id} is open, not paid" in unpaid.value.message
    assert payment == again  # deterministic: the same ID every time
    assert (payment.payment_id, payment.invoice_id) == (f"{march.id}/paid", march.id)
    assert payment.amount == Money.of("9000.00", "USD")  # 9,400.00 less the 400.00 credited before payment
    assert (payment.paid_on, payment.contract_id) == (date(2027, 3, 12), subscribed.contract.contract_id)
    assert (payment.billing_customer_id, payment.erp_customer_id) == (subscribed.customer_id, "ERP-CUS-7")
    assert payment.crm_account_id == subscribed.contract.customer.crm_account_id


async def test_a_payment_stripe_recorded_is_named_by_its_invoice_payment(
    emulator: Emulator, client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    """The emulator processes no payments, so the invoice payment a card payment would leave is put in place."""
    first = (await invoices_of(client, subscribed.subscription_id))[0]
    paid = await client.v1.invoices.pay_async(first.id, params={"paid_out_of_band": True})
    paid_at = paid.status_transitions.paid_at
    assert paid_at is not None
    async with emulator.store.transaction() as tx:
        for payment_id, moment in (("inpay_earlier", paid_at - 60), ("inpay_settling", paid_at)):
            invoice_json = {"id": first.id, "currency": "usd"}
            record = objects.invoice_payment(
                payment_id, moment, invoice_json, {"type": "payment_intent", "payment_intent": "pi_x"}, 1, moment
            )
            await tx.put("invoice_payment", payment_id, record)

    payment = await subscribed.billing.fetch_payment(first.id)

    assert payment.payment_id == "inpay_settling" and payment.amount == Money.of("15000.00", "USD")


# --- posting acknowledgement ------------------------------------------------------------------------------


async def test_acknowledging_a_posting_twice_leaves_one_value_on_the_invoice_and_the_credit_note(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    first = (await invoices_of(client, subscribed.subscription_id))[0]
    note = await client.v1.credit_notes.create_async(params={"invoice": first.id, "amount": 100})
    key = saga_key("acknowledge")

    for _ in range(2):
        await subscribed.billing.acknowledge_posting(first.id, "INV-1001", key)
        await subscribed.billing.acknowledge_posting(note.id, "CM-7", f"{key}/cn")
    await subscribed.billing.acknowledge_posting(first.id, "INV-1001", saga_key("acknowledge-later"))

    invoice = await client.v1.invoices.retrieve_async(first.id)
    credit_note = await client.v1.credit_notes.retrieve_async(note.id)
    assert invoice.metadata.to_dict()["q2c_erp_transaction_id"] == "INV-1001"
    assert set(invoice.metadata.to_dict()) == {"q2c_erp_transaction_id", "q2c_posted_by"}
    assert credit_note.metadata.to_dict() == {"q2c_erp_transaction_id": "CM-7", "q2c_posted_by": f"{key}/cn"}
    assert invoice.status == "open" and invoice.total == first.total  # nothing else changed
    with pytest.raises(PermanentAdapterError) as reused:
        await subscribed.billing.acknowledge_posting(first.id, "INV-9999", key)
    assert reused.value.category is ExceptionCategory.DUPLICATE_DETECTED


# --- metered usage ----------------------------------------------------------------------------------------


async def test_metered_usage_counts_the_events_of_the_days_asked_for_and_no_others(
    client: stripe.StripeClient, subscribed: Subscribed
) -> None:
    customer = subscribed.customer_id
    await advance(client, subscribed.clock_id, at(2027, 1, 20))
    await use(client, customer, 3, at(2026, 12, 31, 23) + 3599, f"{customer}/last-second-of-december")
    await use(client, customer, 800000, at(2027, 1, 10), f"{customer}/january")
    await advance(client, subscribed.clock_id, at(2027, 2, 2))
    await use(client, customer, 5, at(2027, 2, 1) - 1, f"{customer}/last-second-of-january")
    await use(client, customer, 7, at(2027, 2, 1), f"{customer}/first-second-of-february")
    line = UsageLine(
        contract_id=subscribed.contract.contract_id, line_no=USAGE, subscription_id=subscribed.subscription_id
    )

    january = await subscribed.billing.metered_usage(line, date(2027, 1, 1), date(2027, 1, 31))
    one_day = await subscribed.billing.metered_usage(line, date(2027, 2, 1), date(2027, 2, 1))
    nothing = await subscribed.billing.metered_usage(line, date(2027, 1, 11), date(2027, 1, 30))

    assert (january.contract_id, january.line_no) == (subscribed.contract.contract_id, USAGE)
    assert (january.period_start, january.period_end, january.quantity) == (
        date(2027, 1, 1),
        date(2027, 1, 31),
        Decimal(800005),
    )
    assert (one_day.quantity, nothing.quantity) == (Decimal(7), Decimal(0))


async def test_metered_usage_of_a_subscription_billing_another_contract_is_refused(
    subscribed: Subscribed,
) -> None:
    line = UsageLine(contract_id="CTR-other", line_no=USAGE, subscription_id=subscribed.subscription_id)

    with pytest.raises(PermanentAdapterError) as raised:
        await subscribed.billing.metered_usage(line, date(2027, 1, 1), date(2027, 1, 31))

    assert raised.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
