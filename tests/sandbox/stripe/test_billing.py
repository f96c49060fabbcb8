# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""Billing over time on test clocks: cycle invoices in advance, usage in arrears from meter events, prorations
to the second (and their preview), schedules changing phase, credit notes, payment."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import stripe

from adapters.stripe import StripeBilling, StripeSettings
from adapters.stripe.mapping import unix
from canonical.contract import Contract, RampPhase
from canonical.mapping_rules import MappingRules
from canonical.money import Money

from .conftest import API_KEY, Emulator, saga_key, unique_contract


def at(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


async def advance(client: stripe.StripeClient, clock_id: str, moment: int) -> None:
    clock = await client.v1.test_helpers.test_clocks.advance_async(clock_id, params={"frozen_time": moment})
    assert clock.status == "advancing"
    for _ in range(500):
        clock = await client.v1.test_helpers.test_clocks.retrieve_async(clock_id)
        if clock.status == "ready":
            assert clock.frozen_time == moment
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"test clock {clock_id} is still {clock.status}")


async def invoices_of(client: stripe.StripeClient, subscription_id: str) -> list[stripe.Invoice]:
    listed = await client.v1.invoices.list_async(params={"subscription": subscription_id, "limit": 100})
    return sorted(listed.data, key=lambda i: (i.created, i.billing_reason != "subscription_create"))


async def use(client: stripe.StripeClient, customer_id: str, calls: int, moment: int, identifier: str) -> None:
    await client.v1.billing.meter_events.create_async(
        params={
            "event_name": "api_calls",
            "payload": {"stripe_customer_id": customer_id, "value": str(calls)},
            "timestamp": moment,
            "identifier": identifier,
        }
    )


async def _on_clock(emulator: Emulator, client: stripe.StripeClient, frozen: int) -> tuple[str, StripeBilling]:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url, test_clock=clock.id))
    return clock.id, billing


async def test_the_reference_year_bills_seats_in_advance_and_usage_in_arrears(
    emulator: Emulator, client: stripe.StripeClient, rules: MappingRules
) -> None:
    clock_id, billing = await _on_clock(emulator, client, at(2026, 12, 15))
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))
    await billing.aclose()

    subscription = await client.v1.subscriptions.retrieve_async(ref.subscription_id)
    assert subscription.status == "active" and subscription.billing_cycle_anchor == at(2027, 1, 1)
    assert subscription["items"].data[0].current_period_end == at(2027, 1, 1)
    (first,) = await invoices_of(client, ref.subscription_id)
    assert first.billing_reason == "subscription_create" and first.status == "open"
    assert first.total == 1500000  # onboarding only: the days before the term are free
    assert first.due_date == at(2026, 12, 15) + 30 * 86400

    await advance(client, clock_id, at(2027, 1, 20))
    await use(client, customer.customer_id, 800000, at(2027, 1, 10), "jan")
    await advance(client, clock_id, at(2027, 2, 20))
    await use(client, customer.customer_id, 1200000, at(2027, 2, 10), "feb")
    await advance(client, clock_id, at(2027, 3, 1, 2))

    invoices = await invoices_of(client, ref.subscription_id)
    assert [(i.period_end, i.total, i.status) for i in invoices[1:]] == [
        (at(2027, 1, 1), 900000, "open"),  # January's seats; no usage before the term
        (at(2027, 2, 1), 900000, "open"),  # February's seats; January's 800k calls are within the allowance
        (at(2027, 3, 1), 940000, "open"),  # March's seats; February's 200k calls over at $0.002
    ]
    march = invoices[-1]
    usage_line = next(line for line in march.lines.data if line.pricing.price_details.product == "api_overage_metered")
    assert (usage_line.quantity, usage_line.amount) == (1200000, 40000)
    assert (usage_line.period.start, usage_line.period.end) == (at(2027, 2, 1), at(2027, 3, 1))
    seats_line = next(line for line in march.lines.data if line.pricing.price_details.product == "plat_seat_monthly")
    assert seats_line.description == "100 × Platform subscription (per seat) (at $90.00 / month)"
    assert (seats_line.period.start, seats_line.period.end) == (at(2027, 3, 1), at(2027, 4, 1))
    assert march.number.endswith("-0004") and march.due_date == at(2027, 3, 1, 1) + 30 * 86400


async def test_a_contract_that_already_started_is_backdated_and_charged_since_its_start(
    emulator: Emulator, client: stripe.StripeClient, rules: MappingRules
) -> None:
    _, billing = await _on_clock(emulator, client, at(2027, 3, 10))
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))
    await billing.aclose()

    subscription = await client.v1.subscriptions.retrieve_async(ref.subscription_id)
    assert subscription.start_date == at(2027, 1, 1) and subscription.billing_cycle_anchor == at(2027, 4, 1)
    (first,) = await invoices_of(client, ref.subscription_id)
    seats = [
        (line.period.start, line.amount)
        for line in first.lines.data
        if line.pricing.price_details.product == "plat_seat_monthly"
    ]
    assert seats == [(at(2027, 1, 1), 900000), (at(2027, 2, 1), 900000), (at(2027, 3, 1), 900000)]
    assert first.total == 3 * 900000 + 1500000


async def test_a_ramp_schedule_changes_seats_at_the_phase_boundary(
    emulator: Emulator, client: stripe.StripeClient, rules: MappingRules
) -> None:
    clock_id, billing = await _on_clock(emulator, client, at(2026, 12, 20))
    contract = _ramp_at_february(unique_contract(rules))
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))
    await billing.aclose()

    await advance(client, clock_id, at(2027, 2, 1, 2))

    invoices = await invoices_of(client, ref.subscription_id)
    seats = [
        [
            (line.quantity, line.amount)
            for line in i.lines.data
            if line.pricing.price_details.product == "plat_seat_monthly"
        ]
        for i in invoices[1:]
    ]
    assert seats == [[(50, 475000)], [(100, 900000)]]
    schedule = await client.v1.subscription_schedules.retrieve_async(
        (await client.v1.subscriptions.retrieve_async(ref.subscription_id)).schedule
    )
    assert schedule.current_phase.start_date == unix(date(2027, 2, 1))


def _ramp_at_february(contract: Contract) -> Contract:
    seats = contract.lines[0]
    ramp = (
        RampPhase(
            start=date(2027, 1, 1), end=date(2027, 1, 31), quantity=Decimal(50), net_unit_price=Money.of("95.00", "USD")
        ),
        RampPhase(
            start=date(2027, 2, 1),
            end=date(2027, 12, 31),
            quantity=Decimal(100),
            net_unit_price=Money.of("90.00", "USD"),
        ),
    )
    return contract.model_copy(update={"lines": (seats.model_copy(update={"ramp_phases": ramp}), *contract.lines[1:])})


async def _seat_subscription(client: stripe.StripeClient, emulator: Emulator, frozen: int) -> tuple[str, Any]:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    customer = await client.v1.customers.create_async(params={"name": "Upgrade Co", "test_clock": clock.id})
    seats = await client.v1.prices.create_async(
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
            "items": [{"price": seats.id, "quantity": 100}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    return clock.id, subscription


async def test_an_upgrade_is_prorated_to_the_second_and_the_preview_agrees(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock_id, subscription = await _seat_subscription(client, emulator, at(2027, 7, 1))
    premium = await client.v1.prices.create_async(
        params={
            "product": "prem_module_monthly",
            "currency": "usd",
            "unit_amount": 200000,
            "recurring": {"interval": "month"},
        }
    )
    await advance(client, clock_id, at(2027, 7, 15))
    item = subscription["items"].data[0]
    change: Any = {
        "items": [{"id": item.id, "quantity": 150}, {"price": premium.id, "quantity": 1}],
        "proration_behavior": "always_invoice",
        "proration_date": at(2027, 7, 15),
    }

    preview = await client.v1.invoices.create_preview_async(
        params={
            "subscription": subscription.id,
            "subscription_details": {k: change[k] for k in ("items", "proration_behavior", "proration_date")},
        }
    )
    updated = await client.v1.subscriptions.update_async(subscription.id, params=change)
    invoice = await client.v1.invoices.retrieve_async(updated.latest_invoice)

    # 17 of July's 31 days remain: each line is prorated and rounded on its own
    expected = [
        ("Unused time on 100 × Platform subscription (per seat) after 15 Jul 2027", -493548),
        ("Remaining time on 150 × Platform subscription (per seat) after 15 Jul 2027", 740323),
        ("Remaining time on 1 × Premium module after 15 Jul 2027", 109677),
    ]
    assert sorted((line.description, line.amount) for line in invoice.lines.data) == sorted(expected)
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)
    assert all((line.period.start, line.period.end) == (at(2027, 7, 15), at(2027, 8, 1)) for line in invoice.lines.data)
    assert invoice.billing_reason == "subscription_update" and invoice.total == 356452
    assert preview.total == invoice.total and preview.id.startswith("upcoming_")
    assert sorted(line.amount for line in preview.lines.data) == sorted(a for _, a in expected)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.retrieve_async(preview.id)  # a preview is never stored


async def test_create_prorations_waits_for_the_next_invoice_and_none_makes_none(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock_id, subscription = await _seat_subscription(client, emulator, at(2027, 7, 1))
    await advance(client, clock_id, at(2027, 7, 15))
    item = subscription["items"].data[0]

    await client.v1.subscriptions.update_async(
        subscription.id, params={"items": [{"id": item.id, "quantity": 110}], "proration_date": at(2027, 7, 15)}
    )
    pending = await client.v1.invoice_items.list_async(params={"customer": subscription.customer, "pending": True})
    await client.v1.subscriptions.update_async(
        subscription.id, params={"items": [{"id": item.id, "quantity": 120}], "proration_behavior": "none"}
    )
    await advance(client, clock_id, at(2027, 8, 1, 2))

    assert sorted(i.amount for i in pending.data) == [-493548, 542903]
    august = (await invoices_of(client, subscription.id))[-1]
    assert august.billing_reason == "subscription_cycle"
    assert sorted(line.amount for line in august.lines.data) == [-493548, 542903, 120 * 9000]


async def test_a_credit_note_reduces_what_is_due_and_the_invoice_can_be_paid(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    _, subscription = await _seat_subscription(client, emulator, at(2027, 3, 1))
    invoice = await client.v1.invoices.retrieve_async(subscription.latest_invoice)
    line = invoice.lines.data[0]

    note = await client.v1.credit_notes.create_async(
        params={
            "invoice": invoice.id,
            "lines": [{"type": "invoice_line_item", "invoice_line_item": line.id, "amount": 90000}],
            "reason": "order_change",
            "memo": "10 seats never provisioned",
        }
    )
    credited = await client.v1.invoices.retrieve_async(invoice.id)
    paid = await client.v1.invoices.pay_async(invoice.id, params={"paid_out_of_band": True})

    assert note.type == "pre_payment" and note.amount == 90000 and note.number == f"{invoice.number}-CN-01"
    assert (credited.total, credited.amount_due, credited.pre_payment_credit_notes_amount) == (900000, 810000, 90000)
    assert paid.status == "paid" and paid.amount_paid == 810000 and paid.amount_remaining == 0
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.credit_notes.create_async(
            params={"invoice": invoice.id, "amount": 10**9, "credit_amount": 10**9}
        )
    assert too_much.value.param == "amount"


async def test_meter_events_are_deduplicated_and_kept_to_their_window(
    emulator: Emulator, client: stripe.StripeClient
) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2027, 5, 1)})
    customer = await client.v1.customers.create_async(params={"name": "Metered", "test_clock": clock.id})
    await use(client, customer.id, 10, at(2027, 4, 30), "call-1")

    with pytest.raises(stripe.InvalidRequestError) as repeated:
        await use(client, customer.id, 10, at(2027, 4, 30), "call-1")
    with pytest.raises(stripe.InvalidRequestError) as stale:
        await use(client, customer.id, 10, at(2027, 3, 1), "call-2")
    with pytest.raises(stripe.InvalidRequestError) as early:
        await use(client, customer.id, 10, at(2027, 5, 1) + 600, "call-3")

    assert (repeated.value.param, stale.value.param, early.value.param) == ("identifier", "timestamp", "timestamp")


async def test_a_clock_moves_at_most_two_intervals_at_once(emulator: Emulator, client: stripe.StripeClient) -> None:
    clock_id, _ = await _seat_subscription(client, emulator, at(2027, 1, 1))

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.test_helpers.test_clocks.advance_async(clock_id, params={"frozen_time": at(2027, 4, 2)})

    assert raised.value.param == "frozen_time"


async def test_an_anchor_beyond_the_next_natural_billing_date_is_refused(client: stripe.StripeClient) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2026, 11, 22)})
    customer = await client.v1.customers.create_async(params={"name": "Early", "test_clock": clock.id})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.subscriptions.create_async(
            params={
                "customer": customer.id,
                "items": [{"price": await _seat_price(client)}],
                "billing_cycle_anchor": at(2027, 1, 1),
            }
        )

    assert raised.value.param == "billing_cycle_anchor" and "next natural billing date" in str(raised.value)


async def _seat_price(client: stripe.StripeClient) -> str:
    price = await client.v1.prices.create_async(
        params={
            "product": "plat_seat_monthly",
            "currency": "usd",
            "unit_amount": 9000,
            "recurring": {"interval": "month"},
        }
    )
    return price.id


async def test_a_schedule_starting_later_creates_its_subscription_when_the_clock_gets_there(
    client: stripe.StripeClient,
) -> None:
    clock = await client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": at(2027, 1, 10)})
    customer = await client.v1.customers.create_async(params={"name": "Later Ltd", "test_clock": clock.id})
    price = await _seat_price(client)

    schedule = await client.v1.subscription_schedules.create_async(
        params={
            "customer": customer.id,
            "start_date": at(2027, 2, 1),
            "end_behavior": "release",
            "phases": [
                {"items": [{"price": price, "quantity": 5}], "iterations": 2},
                {"items": [{"price": price, "quantity": 8}]},
            ],
            "default_settings": {"collection_method": "send_invoice", "invoice_settings": {"days_until_due": 10}},
        }
    )
    assert schedule.status == "not_started" and schedule.subscription is None
    await advance(client, clock.id, at(2027, 2, 1, 2))

    started = await client.v1.subscription_schedules.retrieve_async(schedule.id)
    assert started.status == "active" and started.current_phase.end_date == at(2027, 4, 1)
    (invoice,) = await invoices_of(client, started.subscription)
    assert invoice.total == 5 * 9000 and invoice.status == "open"
    voided = await client.v1.invoices.void_invoice_async(invoice.id)
    assert voided.status == "void" and voided.status_transitions.voided_at == at(2027, 2, 1, 2)
