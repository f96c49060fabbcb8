# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""What the Stripe emulator does for subscription changes, driven by the official client: items priced inline
in a preview, a cancellation previewed, credit prorations naming what they credit (in fixtures3.json's shape),
negative proration invoices becoming customer balance, credit notes split before and after payment, and the
metadata a canceled subscription still takes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe

from .conftest import Emulator
from .test_billing import advance, at, invoices_of
from .test_fidelity import FIXTURES, shape_differences


async def _seats(
    client: stripe.StripeClient, frozen: int, quantity: int = 100, balance: int = 0
) -> tuple[str, Any, Any]:
    """A customer on a clock with `quantity` seats at 90.00 a month, billed from `frozen`."""
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    customer = await client.v1.customers.create_async(
        params={"name": "Change Co", "test_clock": clock.id, "balance": balance}
    )
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
            "items": [{"price": price.id, "quantity": quantity}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    return clock.id, customer, subscription


async def test_a_preview_prices_an_added_item_inline_and_stores_nothing(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock_id, _, subscription = await _seats(client, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))
    prices_before = await client.v1.prices.list_async(params={"limit": 100})

    preview = await client.v1.invoices.create_preview_async(
        params={
            "subscription": subscription.id,
            "subscription_details": {
                "items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "product": "prem_module_monthly",
                            "recurring": {"interval": "month"},
                            "unit_amount_decimal": "200000",
                        },
                        "quantity": 1,
                    }
                ],
                "proration_behavior": "always_invoice",
                "proration_date": at(2027, 7, 15),
            },
        }
    )

    (line,) = preview.lines.data
    assert line.amount == 109677 and line.parent.subscription_item_details.proration
    assert (line.pricing.price_details.product, line.pricing.unit_amount_decimal) == (
        "prem_module_monthly",
        Decimal("200000"),
    )
    prices_after = await client.v1.prices.list_async(params={"limit": 100})
    assert [p.id for p in prices_after.data] == [p.id for p in prices_before.data]
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.prices.retrieve_async(line.pricing.price_details.price)
    assert len(await invoices_of(client, subscription.id)) == 1


async def test_a_cancellation_preview_credits_the_unused_time(emulator: Emulator, client: stripe.StripeClient) -> None:
    clock_id, _, subscription = await _seats(client, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))

    preview = await client.v1.invoices.create_preview_async(
        params={
            "subscription": subscription.id,
            "subscription_details": {"cancel_now": True, "proration_date": at(2027, 7, 15)},
        }
    )

    assert [line.amount for line in preview.lines.data] == [-493548]
    assert (await client.v1.subscriptions.retrieve_async(subscription.id)).status == "active"


async def test_a_credit_proration_names_the_line_it_credits_in_stripes_shape(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock_id, _, subscription = await _seats(client, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))
    first = await client.v1.invoices.retrieve_async(subscription.latest_invoice)
    item = subscription["items"].data[0]

    updated = await client.v1.subscriptions.update_async(
        subscription.id,
        params={
            "items": [{"id": item.id, "quantity": 120}],
            "proration_behavior": "always_invoice",
            "proration_date": at(2027, 7, 15),
        },
    )

    invoice = await client.v1.invoices.retrieve_async(updated.latest_invoice)
    credit = next(line for line in invoice.lines.data if line.amount < 0)
    debit = next(line for line in invoice.lines.data if line.amount > 0)
    credited = credit.parent.subscription_item_details.proration_details.credited_items
    assert (credited.invoice, credited.invoice_line_items) == (first.id, [first.lines.data[0].id])
    assert debit.parent.subscription_item_details.proration_details.credited_items is None
    assert shape_differences("line_item", credit.to_dict(), FIXTURES["line_item"]) == []


async def test_a_negative_proration_invoice_credits_the_customer_balance_for_the_next_invoice(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock_id, customer, subscription = await _seats(client, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))
    item = subscription["items"].data[0]

    updated = await client.v1.subscriptions.update_async(
        subscription.id,
        params={
            "items": [{"id": item.id, "quantity": 80}],
            "proration_behavior": "always_invoice",
            "proration_date": at(2027, 7, 15),
        },
    )
    negative = await client.v1.invoices.retrieve_async(updated.latest_invoice)
    await advance(client, clock_id, at(2027, 8, 1, 2))
    august = (await invoices_of(client, subscription.id))[-1]

    # 100 seats' unused time credited, 80 seats' remaining time charged: -4935.48 + 3948.39
    assert (negative.total, negative.amount_due, negative.status) == (-98709, 0, "paid")
    assert (negative.starting_balance, negative.ending_balance) == (0, -98709)
    assert (august.total, august.amount_due, august.starting_balance) == (720000, 720000 - 98709, -98709)
    assert (await client.v1.customers.retrieve_async(customer.id)).balance == 0


async def test_nothing_to_prorate_makes_no_invoice(emulator: Emulator, client: stripe.StripeClient) -> None:
    clock_id, _, subscription = await _seats(client, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))
    item = subscription["items"].data[0]

    updated = await client.v1.subscriptions.update_async(
        subscription.id,
        params={"items": [{"id": item.id, "quantity": 100}], "proration_behavior": "always_invoice"},
    )

    assert updated.latest_invoice == subscription.latest_invoice
    assert len(await invoices_of(client, subscription.id)) == 1


async def test_a_credit_note_beyond_what_is_due_is_split_before_and_after_payment(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    _, customer, subscription = await _seats(client, at(2027, 3, 1), quantity=1, balance=-1000)
    invoice = await client.v1.invoices.retrieve_async(subscription.latest_invoice)  # 90.00, 80.00 still due
    line = invoice.lines.data[0].id
    five_thousand = [{"type": "invoice_line_item", "invoice_line_item": line, "amount": 5000}]

    partly = await client.v1.credit_notes.create_async(params={"invoice": invoice.id, "amount": 4000})
    with pytest.raises(stripe.InvalidRequestError) as unsplit:
        await client.v1.credit_notes.create_async(params={"invoice": invoice.id, "lines": five_thousand})
    mixed = await client.v1.credit_notes.create_async(
        params={"invoice": invoice.id, "lines": five_thousand, "credit_amount": 1000}
    )
    with pytest.raises(stripe.InvalidRequestError) as beyond_total:
        await client.v1.credit_notes.create_async(params={"invoice": invoice.id, "amount": 1, "credit_amount": 1})

    assert (partly.type, partly.pre_payment_amount, partly.post_payment_amount) == ("pre_payment", 4000, 0)
    assert unsplit.value.param == "credit_amount" and beyond_total.value.param == "amount"
    assert (invoice.total, invoice.amount_due) == (9000, 8000)
    assert (mixed.type, mixed.pre_payment_amount, mixed.post_payment_amount) == ("mixed", 4000, 1000)
    credited = await client.v1.invoices.retrieve_async(invoice.id)
    assert (credited.status, credited.amount_remaining) == ("paid", 0)
    assert (credited.pre_payment_credit_notes_amount, credited.post_payment_credit_notes_amount) == (8000, 1000)
    assert (await client.v1.customers.retrieve_async(customer.id)).balance == -1000


async def test_voiding_a_credit_note_takes_back_the_balance_it_gave(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    _, customer, subscription = await _seats(client, at(2027, 3, 1), quantity=1)
    invoice = await client.v1.invoices.pay_async(subscription.latest_invoice, params={"paid_out_of_band": True})
    note = await client.v1.credit_notes.create_async(
        params={"invoice": invoice.id, "amount": 2500, "credit_amount": 2500}
    )
    credited = (await client.v1.customers.retrieve_async(customer.id)).balance

    voided = await client.v1.credit_notes.void_credit_note_async(note.id)

    assert note.type == "post_payment" and credited == -2500 and voided.status == "void"
    assert (await client.v1.customers.retrieve_async(customer.id)).balance == 0
    assert (await client.v1.invoices.retrieve_async(invoice.id)).post_payment_credit_notes_amount == 0


async def test_a_canceled_subscription_takes_metadata_and_nothing_else(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    _, _, subscription = await _seats(client, at(2027, 3, 1))
    await client.v1.subscriptions.cancel_async(subscription.id)

    tagged = await client.v1.subscriptions.update_async(subscription.id, params={"metadata": {"note": "kept"}})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.subscriptions.update_async(subscription.id, params={"cancel_at_period_end": True})

    assert tagged.status == "canceled" and tagged.metadata["note"] == "kept"
    assert refused.value.param == "cancel_at_period_end" and "canceled subscription" in str(refused.value)
