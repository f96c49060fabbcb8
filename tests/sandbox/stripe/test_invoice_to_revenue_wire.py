# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""The emulator's endpoints for invoice → revenue, driven by the official client: invoice and credit note
updates (metadata stays editable after finalization, collection terms do not), credit note lines, billing meter
event summaries, and invoice payments; their objects compared with Stripe's examples."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from sandbox.stripe import objects

from .conftest import API_KEY, Emulator
from .test_billing import advance, at, use
from .test_fidelity import FIXTURES, shape_differences


async def _seat_invoice(client: stripe.StripeClient, frozen: int, name: str) -> tuple[str, stripe.Invoice]:
    """A customer on a clock with 3 seats a month: its clock and its first (open) invoice."""
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    customer = await client.v1.customers.create_async(params={"name": name, "test_clock": clock.id})
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
    return clock.id, await client.v1.invoices.retrieve_async(subscription.latest_invoice)


# --- invoice and credit note updates ----------------------------------------------------------------------


async def test_a_finalized_invoice_takes_metadata_but_not_new_collection_terms(client: stripe.StripeClient) -> None:
    _, invoice = await _seat_invoice(client, at(2027, 4, 1), "Editable Ltd")

    updated = await client.v1.invoices.update_async(
        invoice.id, params={"metadata": {"erp": "INV-1", "note": "x"}, "footer": "Thank you"}
    )
    trimmed = await client.v1.invoices.update_async(invoice.id, params={"metadata": {"note": ""}})
    with pytest.raises(stripe.InvalidRequestError) as terms:
        await client.v1.invoices.update_async(invoice.id, params={"collection_method": "charge_automatically"})
    with pytest.raises(stripe.InvalidRequestError) as amount:
        await client.v1.invoices.update_async(invoice.id, params={"amount_due": 1})
    events = await client.v1.events.list_async(params={"type": "invoice.updated", "limit": 2})

    assert invoice.status == "open" and updated.footer == "Thank you"
    assert trimmed.metadata.to_dict() == {"erp": "INV-1"}
    assert (terms.value.code, terms.value.param) == ("invoice_not_editable", "collection_method")
    assert amount.value.code == "parameter_unknown"
    latest = events.data[0]
    assert latest.data.object["id"] == invoice.id
    assert latest.data.previous_attributes["metadata"].to_dict() == {"erp": "INV-1", "note": "x"}
    unchanged = await client.v1.invoices.retrieve_async(invoice.id)
    assert (unchanged.collection_method, unchanged.total, unchanged.status) == ("send_invoice", 27000, "open")


async def test_a_draft_invoice_takes_new_collection_terms(client: stripe.StripeClient) -> None:
    clock_id, _ = await _seat_invoice(client, at(2027, 4, 1), "Drafty Ltd")
    await advance(client, clock_id, at(2027, 5, 1))  # the cycle invoice is a draft for an hour
    listed = await client.v1.invoices.list_async(params={"test_clock": clock_id, "status": "draft"})
    (draft,) = listed.data

    await client.v1.invoices.update_async(draft.id, params={"days_until_due": 45, "metadata": {"po": "PO-9"}})
    await advance(client, clock_id, at(2027, 5, 1, 2))
    finalized = await client.v1.invoices.retrieve_async(draft.id)

    assert finalized.status == "open" and finalized.metadata["po"] == "PO-9"
    assert finalized.due_date == at(2027, 5, 1, 1) + 45 * 86400


async def test_a_credit_note_takes_a_memo_and_metadata_and_lists_its_lines_in_pages(
    client: stripe.StripeClient,
) -> None:
    _, invoice = await _seat_invoice(client, at(2027, 4, 1), "Credited Ltd")
    note = await client.v1.credit_notes.create_async(
        params={
            "invoice": invoice.id,
            "lines": [
                {
                    "type": "custom_line_item",
                    "unit_amount": amount,
                    "description": f"goodwill {n}",
                    "metadata": {"n": str(n)},
                }
                for n, amount in enumerate((100, 200, 300))
            ],
        }
    )

    updated = await client.v1.credit_notes.update_async(note.id, params={"memo": "agreed", "metadata": {"k": "v"}})
    first = await client.v1.credit_notes.line_items.list_async(note.id, params={"limit": 2})
    every = [line async for line in first.auto_paging_iter()]
    with pytest.raises(stripe.InvalidRequestError) as amount:
        await client.v1.credit_notes.update_async(note.id, params={"amount": 5})

    assert (updated.memo, updated.metadata.to_dict(), updated.amount) == ("agreed", {"k": "v"}, 600)
    assert len(first.data) == 2 and first.has_more and first.url == f"/v1/credit_notes/{note.id}/lines"
    assert [(line.amount, line.metadata["n"]) for line in every] == [(100, "0"), (200, "1"), (300, "2")]
    assert amount.value.param == "amount"


# --- meter event summaries --------------------------------------------------------------------------------


async def _metered_customer(client: stripe.StripeClient, frozen: int) -> str:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    customer = await client.v1.customers.create_async(params={"name": "Metered Co", "test_clock": clock.id})
    return customer.id


async def test_event_summaries_sum_a_customers_events_over_the_window(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    customer = await _metered_customer(client, at(2027, 6, 10))
    other = await _metered_customer(client, at(2027, 6, 10))
    for calls, moment, name in ((10, at(2027, 6, 1), "a"), (15, at(2027, 6, 1, 5), "b"), (20, at(2027, 6, 3, 1), "c")):
        await use(client, customer, calls, moment, f"{customer}/{name}")
    await use(client, other, 1000, at(2027, 6, 1), f"{other}/x")
    summaries = client.v1.billing.meters.event_summaries

    whole = await summaries.list_async(
        emulator.meter_id, params={"customer": customer, "start_time": at(2027, 6, 1), "end_time": at(2027, 6, 3, 1)}
    )
    daily = await summaries.list_async(
        emulator.meter_id,
        params={
            "customer": customer,
            "start_time": at(2027, 6, 1),
            "end_time": at(2027, 6, 5),
            "value_grouping_window": "day",
        },
    )
    empty = await summaries.list_async(
        emulator.meter_id, params={"customer": customer, "start_time": at(2027, 5, 1), "end_time": at(2027, 6, 1)}
    )

    (summary,) = whole.data
    assert isinstance(summary, stripe.billing.MeterEventSummary) and summary.id.startswith("mtrusg_")
    assert (summary.aggregated_value, summary.start_time, summary.end_time) == (25, at(2027, 6, 1), at(2027, 6, 3, 1))
    assert summary.meter == emulator.meter_id and whole.url == f"/v1/billing/meters/{emulator.meter_id}/event_summaries"
    assert [(s.start_time, s.aggregated_value) for s in daily.data] == [(at(2027, 6, 3), 20), (at(2027, 6, 1), 25)]
    assert [s.aggregated_value for s in empty.data] == [0]


async def test_event_summaries_page_with_stable_ids(client: stripe.StripeClient, emulator: Emulator) -> None:
    customer = await _metered_customer(client, at(2027, 6, 10))
    for hour in range(3):
        await use(client, customer, hour + 1, at(2027, 6, 2, hour), f"{customer}/{hour}")
    params: Any = {
        "customer": customer,
        "start_time": at(2027, 6, 2),
        "end_time": at(2027, 6, 3),
        "value_grouping_window": "hour",
        "limit": 2,
    }

    first = await client.v1.billing.meters.event_summaries.list_async(emulator.meter_id, params=params)
    rest = await client.v1.billing.meters.event_summaries.list_async(
        emulator.meter_id, params={**params, "starting_after": first.data[-1].id}
    )
    again = await client.v1.billing.meters.event_summaries.list_async(emulator.meter_id, params=params)

    assert [s.aggregated_value for s in first.data] == [3, 2] and first.has_more
    assert [s.aggregated_value for s in rest.data] == [1] and not rest.has_more
    assert [s.id for s in again.data] == [s.id for s in first.data]


@pytest.mark.parametrize(
    ("window", "start", "end", "param"),
    [
        (None, at(2027, 6, 1) + 30, at(2027, 6, 2), "start_time"),
        (None, at(2027, 6, 1), at(2027, 6, 2) + 1, "end_time"),
        ("hour", at(2027, 6, 1), at(2027, 6, 1) + 60, "end_time"),
        ("day", at(2027, 6, 1, 1), at(2027, 6, 2), "start_time"),
        (None, at(2027, 6, 2), at(2027, 6, 1), "end_time"),
    ],
)
async def test_event_summary_windows_must_align(
    client: stripe.StripeClient, emulator: Emulator, window: str | None, start: int, end: int, param: str
) -> None:
    customer = await _metered_customer(client, at(2027, 6, 10))
    params: Any = {"customer": customer, "start_time": start, "end_time": end}
    if window:
        params["value_grouping_window"] = window

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.billing.meters.event_summaries.list_async(emulator.meter_id, params=params)

    assert raised.value.http_status == 400 and raised.value.param == param


async def test_event_summaries_need_a_known_meter_customer_and_window(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    customer = await _metered_customer(client, at(2027, 6, 10))
    window: Any = {"start_time": at(2027, 6, 1), "end_time": at(2027, 6, 2)}
    summaries = client.v1.billing.meters.event_summaries

    with pytest.raises(stripe.InvalidRequestError) as meter:
        await summaries.list_async("mtr_nope", params={"customer": customer, **window})
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await summaries.list_async(emulator.meter_id, params={"customer": "cus_nope", **window})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await summaries.list_async(emulator.meter_id, params={"customer": customer, "start_time": at(2027, 6, 1)})

    assert (meter.value.http_status, meter.value.code) == (404, "resource_missing")
    assert (unknown.value.param, unknown.value.code) == ("customer", "resource_missing")
    assert (missing.value.param, missing.value.code) == ("end_time", "parameter_missing")


# --- invoice payments -------------------------------------------------------------------------------------


async def test_invoice_payments_list_by_invoice_and_status(client: stripe.StripeClient, emulator: Emulator) -> None:
    _, invoice = await _seat_invoice(client, at(2027, 4, 1), "Paying Ltd")
    _, other = await _seat_invoice(client, at(2027, 4, 1), "Other Ltd")
    paid = await client.v1.invoices.pay_async(invoice.id, params={"paid_out_of_band": True})
    out_of_band = await client.v1.invoice_payments.list_async(params={"invoice": invoice.id})
    payment_id = f"inpay_{invoice.id[3:]}"
    async with emulator.store.transaction() as tx:
        record = objects.invoice_payment(
            payment_id,
            at(2027, 4, 1),
            {"id": invoice.id, "currency": "usd"},
            {"type": "payment_record", "payment_record": "pr_1"},
            paid.amount_paid,
            at(2027, 4, 1),
        )
        await tx.put("invoice_payment", payment_id, record)

    mine = await client.v1.invoice_payments.list_async(params={"invoice": invoice.id, "status": "paid"})
    open_ones = await client.v1.invoice_payments.list_async(params={"invoice": invoice.id, "status": "open"})
    theirs = await client.v1.invoice_payments.list_async(params={"invoice": other.id})
    fetched = await client.v1.invoice_payments.retrieve_async(payment_id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.invoice_payments.retrieve_async("inpay_nope")

    assert out_of_band.data == []  # paid out of band: no payment object
    assert [p.id for p in mine.data] == [payment_id] and mine.url == "/v1/invoice_payments"
    assert open_ones.data == [] and theirs.data == []
    assert isinstance(fetched, stripe.InvoicePayment) and fetched.payment.payment_record == "pr_1"
    assert (fetched.amount_paid, fetched.status_transitions.paid_at) == (27000, at(2027, 4, 1))
    assert missing.value.http_status == 404


# --- shapes -----------------------------------------------------------------------------------------------

# The fixture's invoice payment names only the payment's type; the API also gives the ID of that type's object
# (`payment.payment_intent` or `payment.payment_record`), which stripe-python types and q2c may read.
PAYMENT_OBJECT = "extra payment.payment_record"


async def test_summaries_and_invoice_payments_have_the_shapes_of_stripes_examples(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    customer = await _metered_customer(client, at(2027, 6, 10))
    await use(client, customer, 4, at(2027, 6, 1), f"{customer}/shape")
    async with httpx.AsyncClient(base_url=emulator.url, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        summaries = await http.get(
            f"/v1/billing/meters/{emulator.meter_id}/event_summaries",
            params={"customer": customer, "start_time": at(2027, 6, 1), "end_time": at(2027, 6, 2)},
        )
    payment = objects.invoice_payment(
        "inpay_shape",
        at(2027, 6, 1),
        {"id": "in_shape", "currency": "usd"},
        {"type": "payment_record", "payment_record": "pr_1"},
        100,
        at(2027, 6, 1),
    )
    shown = {"billing.meter_event_summary": summaries.json()["data"][0], "invoice_payment": objects.public(payment)}

    differences = {name: shape_differences(name, obj, FIXTURES[name]) for name, obj in shown.items()}

    assert differences == {"billing.meter_event_summary": [], "invoice_payment": [PAYMENT_OBJECT]}
    assert summaries.json()["object"] == "list" and summaries.json()["has_more"] is False
