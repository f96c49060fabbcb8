# stripe-python types every field of its objects as Optional; these tests read fields they just set.
# mypy: disable-error-code="union-attr,index,arg-type,typeddict-item"
"""Contract tests: the Stripe adapter against the running emulator, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import stripe

from adapters.errors import (
    AdapterError,
    NotFoundError,
    PermanentAdapterError,
    RateLimitedError,
    TransientAdapterError,
)
from adapters.stripe import StripeBilling, StripeSettings
from adapters.stripe.mapping import unix
from canonical.contract import Contract, RampPhase
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import System
from sandbox.faults import FaultConfig, FaultRule
from sandbox.store import DocumentStore

from .conftest import API_KEY, Emulator, official_client, saga_key, start_emulator, unique_contract

T = TypeVar("T")


async def _customers_with_account(client: stripe.StripeClient, account_id: str) -> list[stripe.Customer]:
    result = await client.v1.customers.search_async(params={"query": f"metadata['crm_account_id']:'{account_id}'"})
    return list(result.data)


# --- customers --------------------------------------------------------------------------------------------


async def test_a_customer_is_created_once_then_matched(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    key = saga_key("billing-customer")

    first = await billing.match_or_create_customer(contract.customer, "ERP-CUS-00001", key)
    again = await billing.match_or_create_customer(contract.customer, "ERP-CUS-00001", key)
    other_saga = await billing.match_or_create_customer(contract.customer, "ERP-CUS-00001", saga_key("other"))

    assert first.system is System.BILLING and first.created
    assert again == first
    assert other_saga.customer_id == first.customer_id and not other_saga.created
    stored = await client.v1.customers.retrieve_async(first.customer_id)
    assert stored.name == contract.customer.name
    assert stored.email == contract.customer.billing_contact.email
    assert stored.metadata["crm_account_id"] == contract.customer.crm_account_id
    assert stored.metadata["erp_customer_id"] == "ERP-CUS-00001"
    assert stored.metadata["q2c_created_by"] == key
    assert len(await _customers_with_account(client, contract.customer.crm_account_id)) == 1


async def test_concurrent_calls_with_one_key_create_one_customer(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    key = saga_key("billing-customer")

    results = await asyncio.gather(
        *(billing.match_or_create_customer(contract.customer, "ERP-1", key) for _ in range(3)),
        return_exceptions=True,
    )

    ids = {r.customer_id for r in results if not isinstance(r, BaseException)}
    assert len(ids) == 1
    # a concurrent duplicate gets Stripe's 409, which is transient: Temporal retries and then matches
    assert all(isinstance(r, TransientAdapterError) for r in results if isinstance(r, BaseException))
    assert len(await _customers_with_account(client, contract.customer.crm_account_id)) == 1


async def test_the_erp_id_is_added_to_a_matched_customer(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    made = await billing.match_or_create_customer(contract.customer, "ERP-OLD", saga_key("a"))

    await billing.match_or_create_customer(contract.customer, "ERP-NEW", saga_key("b"))

    assert (await client.v1.customers.retrieve_async(made.customer_id)).metadata["erp_customer_id"] == "ERP-NEW"


async def test_undoing_a_customer_deletes_only_what_the_key_created(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    key = saga_key("billing-customer")
    made = await billing.match_or_create_customer(contract.customer, "ERP-1", key)
    matching_key = saga_key("matched-only")
    await billing.match_or_create_customer(contract.customer, "ERP-1", matching_key)

    assert await billing.deactivate_customer_created_by(matching_key) is None
    assert await client.v1.customers.retrieve_async(made.customer_id)  # a merely matched customer survives
    assert await billing.deactivate_customer_created_by(key) == made.customer_id
    assert await billing.deactivate_customer_created_by(key) is None  # nothing left to undo

    gone = await client.v1.customers.retrieve_async(made.customer_id)
    assert gone.to_dict() == {"id": made.customer_id, "object": "customer", "deleted": True}


async def test_undo_finds_a_customer_the_search_index_has_not_caught_up_with(
    tmp_path: Path, rules: MappingRules
) -> None:
    from sandbox.stripe import StripeEmulatorSettings

    settings = StripeEmulatorSettings(search_lag_seconds=60, rate_limit_per_second=500, rate_limit_burst=500)
    async for emulator in start_emulator(tmp_path / "lagging.sqlite", rules, settings):
        billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url))
        key = saga_key("billing-customer")
        made = await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", key)

        assert await billing.deactivate_customer_created_by(key) == made.customer_id
        await billing.aclose()


# --- subscriptions ----------------------------------------------------------------------------------------


async def test_the_reference_contract_becomes_a_subscription(
    billing: StripeBilling, client: stripe.StripeClient, emulator: Emulator, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    key = saga_key("subscription")

    ref = await billing.create_subscription(contract, customer.customer_id, key)

    assert ref.billing_customer_id == customer.customer_id
    subscription = await client.v1.subscriptions.retrieve_async(
        ref.subscription_id, params={"expand": ["items.data.price.tiers"]}
    )
    assert subscription.metadata["contract_id"] == contract.contract_id
    assert subscription.metadata["q2c_created_by"] == key
    assert subscription.collection_method == "send_invoice" and subscription.days_until_due == 30
    assert subscription.cancel_at == unix(date(2028, 1, 1))
    seats, usage = subscription["items"].data
    assert (seats.price.product, seats.price.unit_amount, seats.quantity) == ("plat_seat_monthly", 9000, 100)
    assert seats.price.recurring.interval == "month" and seats.price.recurring.usage_type == "licensed"
    assert usage.price.product == "api_overage_metered" and usage.quantity is None
    assert usage.price.recurring.usage_type == "metered" and usage.price.recurring.meter == emulator.meter_id
    assert [(t.up_to, t.unit_amount_decimal) for t in usage.price.tiers] == [
        (1000000, Decimal(0)),
        (None, Decimal("0.2")),
    ]
    # the term starts more than a month from now (2027-01-01): a free trial up to it
    assert subscription.status == "trialing" and subscription.trial_end == unix(date(2027, 1, 1))
    first = await client.v1.invoices.retrieve_async(subscription.latest_invoice)
    onboarding = [line for line in first.lines.data if line.pricing.price_details.product == "onboarding_standard"]
    assert [line.amount for line in onboarding] == [1500000]


async def test_creating_a_subscription_twice_with_one_key_creates_one(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    key = saga_key("subscription")

    first = await billing.create_subscription(contract, customer.customer_id, key)
    second = await billing.create_subscription(contract, customer.customer_id, key)

    assert second == first
    found = await client.v1.subscriptions.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
    assert [s.id for s in found.data] == [first.subscription_id]
    prices = await client.v1.prices.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
    assert len(prices.data) == 3


def _ramped(contract: Contract) -> Contract:
    seats = contract.lines[0]
    usd = contract.currency
    ramp = (
        RampPhase(
            start=date(2027, 1, 1), end=date(2027, 6, 30), quantity=Decimal(50), net_unit_price=Money.of("95.00", usd)
        ),
        RampPhase(
            start=date(2027, 7, 1), end=date(2027, 12, 31), quantity=Decimal(100), net_unit_price=Money.of("90.00", usd)
        ),
    )
    return contract.model_copy(update={"lines": (seats.model_copy(update={"ramp_phases": ramp}), *contract.lines[1:])})


async def test_a_ramp_deal_becomes_a_subscription_schedule(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = _ramped(unique_contract(rules))
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))

    ref = await billing.create_subscription(contract, customer.customer_id, saga_key("subscription"))

    subscription = await client.v1.subscriptions.retrieve_async(ref.subscription_id)
    assert subscription.cancel_at is None  # the schedule ends it
    schedule = await client.v1.subscription_schedules.retrieve_async(subscription.schedule)
    assert schedule.end_behavior == "cancel" and schedule.status == "active"
    assert [p.end_date for p in schedule.phases] == [unix(date(2027, 7, 1)), unix(date(2028, 1, 1))]
    assert [[i.quantity for i in p["items"]] for p in schedule.phases] == [[50, None], [100, None]]
    first_seat_price = await client.v1.prices.retrieve_async(schedule.phases[0]["items"][0].price)
    second_seat_price = await client.v1.prices.retrieve_async(schedule.phases[1]["items"][0].price)
    assert (first_seat_price.unit_amount, second_seat_price.unit_amount) == (9500, 9000)


async def test_a_ramp_deal_interrupted_half_way_resumes_on_retry(
    billing: StripeBilling, client: stripe.StripeClient, emulator: Emulator, rules: MappingRules
) -> None:
    contract = _ramped(unique_contract(rules))
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    key = saga_key("subscription")
    emulator.faults.configure(
        FaultConfig(rules=[FaultRule(kind="error", rate=1.0, path="/v1/subscription_schedules.*")])
    )

    with pytest.raises(TransientAdapterError):
        await billing.create_subscription(contract, customer.customer_id, key)
    emulator.faults.configure(FaultConfig())
    ref = await billing.create_subscription(contract, customer.customer_id, key)

    found = await client.v1.subscriptions.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
    assert [s.id for s in found.data] == [ref.subscription_id]
    schedule = await client.v1.subscription_schedules.retrieve_async(
        (await client.v1.subscriptions.retrieve_async(ref.subscription_id)).schedule
    )
    assert len(schedule.phases) == 2
    prices = await client.v1.prices.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
    assert len(prices.data) == 4  # two seat prices (one per ramp phase), usage, onboarding: none twice


async def test_cancelling_a_subscription_undoes_only_what_the_key_created(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("customer"))
    key = saga_key("subscription")
    ref = await billing.create_subscription(contract, customer.customer_id, key)

    assert await billing.cancel_subscription_created_by(saga_key("never-used")) is None
    assert await billing.cancel_subscription_created_by(key) == ref.subscription_id
    assert await billing.cancel_subscription_created_by(key) == ref.subscription_id  # idempotent

    assert (await client.v1.subscriptions.retrieve_async(ref.subscription_id)).status == "canceled"


async def test_a_subscription_for_an_unknown_customer_is_not_found(billing: StripeBilling, rules: MappingRules) -> None:
    with pytest.raises(NotFoundError) as raised:
        await billing.create_subscription(unique_contract(rules), "cus_doesnotexist", saga_key("subscription"))

    assert "param customer" in raised.value.message


async def test_a_fractional_seat_count_is_refused_before_anything_is_created(
    billing: StripeBilling, client: stripe.StripeClient, rules: MappingRules
) -> None:
    contract = unique_contract(rules)
    seats = contract.lines[0].model_copy(update={"quantity": Decimal("10.5")})
    contract = contract.model_copy(update={"lines": (seats, *contract.lines[1:])})
    key = saga_key("subscription")

    with pytest.raises(PermanentAdapterError) as raised:
        await billing.create_subscription(contract, "cus_any", key)

    assert raised.value.category is ExceptionCategory.INVALID_DATA and "quantity" in raised.value.message
    prices = await client.v1.prices.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
    assert prices.data == []


# --- error classes ----------------------------------------------------------------------------------------


async def test_a_5xx_is_transient(billing: StripeBilling, emulator: Emulator, rules: MappingRules) -> None:
    emulator.faults.configure(FaultConfig(rules=[FaultRule(kind="error", rate=1.0, status=503)]))

    with pytest.raises(TransientAdapterError):
        await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", saga_key("c"))


async def test_a_429_is_rate_limited_with_the_hinted_delay(
    billing: StripeBilling, emulator: Emulator, rules: MappingRules
) -> None:
    emulator.faults.configure(FaultConfig(rules=[FaultRule(kind="rate_limit", rate=1.0, retry_after_seconds=7)]))

    with pytest.raises(RateLimitedError) as raised:
        await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", saga_key("c"))

    assert raised.value.retry_after == timedelta(seconds=7)


async def test_stripes_own_rate_limit_is_rate_limited(tmp_path: Path, rules: MappingRules) -> None:
    from sandbox.stripe import StripeEmulatorSettings

    settings = StripeEmulatorSettings(rate_limit_per_second=1, rate_limit_burst=12)  # the seed takes 10
    async for emulator in start_emulator(tmp_path / "limited.sqlite", rules, settings):
        billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url))
        with pytest.raises(RateLimitedError) as raised:
            for _ in range(10):
                await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", saga_key("c"))
        assert raised.value.retry_after == timedelta(seconds=1)
        await billing.aclose()


async def test_a_validation_error_is_permanent_and_names_the_field(billing: StripeBilling, rules: MappingRules) -> None:
    customer = unique_contract(rules).customer
    customer = customer.model_copy(update={"name": "N" * 300})  # Stripe allows 256 characters

    with pytest.raises(PermanentAdapterError) as raised:
        await billing.match_or_create_customer(customer, "ERP-1", saga_key("c"))

    assert raised.value.category is ExceptionCategory.INVALID_DATA
    assert "param name" in raised.value.message


async def test_a_wrong_api_key_is_permanent(emulator: Emulator, rules: MappingRules) -> None:
    billing = StripeBilling(StripeSettings(api_key="sk_test_wrong_key_123456", base_url=emulator.url))

    with pytest.raises(PermanentAdapterError) as raised:
        await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", saga_key("c"))

    assert raised.value.category is ExceptionCategory.SYSTEM_REJECTED and "Invalid API Key" in raised.value.message
    await billing.aclose()


@pytest.mark.parametrize("kind", ["drop", "slow"])
async def test_a_dropped_or_slow_connection_is_transient(emulator: Emulator, rules: MappingRules, kind: str) -> None:
    billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url, timeout_seconds=0.5))
    emulator.faults.configure(FaultConfig(rules=[FaultRule(kind=kind, rate=1.0, delay_seconds=1.5)]))

    with pytest.raises(TransientAdapterError):
        await billing.match_or_create_customer(unique_contract(rules).customer, "ERP-1", saga_key("c"))
    await billing.aclose()


async def test_with_retries_through_faults_the_saga_step_succeeds_once(
    billing: StripeBilling, client: stripe.StripeClient, emulator: Emulator, rules: MappingRules
) -> None:
    emulator.faults.configure(
        FaultConfig(
            seed=7,
            rules=[
                FaultRule(kind="error", rate=0.4, status=500),
                FaultRule(kind="rate_limit", rate=0.2, retry_after_seconds=0),
                FaultRule(kind="drop", rate=0.1),
            ],
        )
    )
    contract = _ramped(unique_contract(rules))  # the longest path: prices, subscription, schedule, phases
    customer_key, subscription_key = saga_key("customer"), saga_key("subscription")

    async def retried(step: Callable[[], Awaitable[T]]) -> T:  # what Temporal does, without the waiting
        for _ in range(100):
            try:
                return await step()
            except (TransientAdapterError, RateLimitedError):
                continue
        raise AssertionError("never succeeded")

    customer = await retried(lambda: billing.match_or_create_customer(contract.customer, "ERP-1", customer_key))
    ref = await retried(lambda: billing.create_subscription(contract, customer.customer_id, subscription_key))
    assert emulator.faults.injected

    emulator.faults.configure(FaultConfig())
    assert len(await _customers_with_account(client, contract.customer.crm_account_id)) == 1
    found = await client.v1.subscriptions.search_async(
        params={"query": f"metadata['q2c_created_by']:'{subscription_key}'"}
    )
    assert [s.id for s in found.data] == [ref.subscription_id]


# --- persistence ------------------------------------------------------------------------------------------


async def test_data_and_idempotency_keys_survive_a_restart(tmp_path: Path, rules: MappingRules) -> None:
    path = tmp_path / "restart.sqlite"
    contract = unique_contract(rules)
    key = saga_key("customer")
    async for emulator in start_emulator(path, rules):
        billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=emulator.url))
        made = await billing.match_or_create_customer(contract.customer, "ERP-1", key)
        ref = await billing.create_subscription(contract, made.customer_id, saga_key("subscription"))
        await billing.aclose()

    async for emulator in start_emulator(path, rules):
        client = official_client(emulator.url)
        assert (await client.v1.customers.retrieve_async(made.customer_id)).name == contract.customer.name
        assert (await client.v1.subscriptions.retrieve_async(ref.subscription_id)).status == "trialing"
        with pytest.raises(stripe.IdempotencyError):  # the key is still remembered after the restart
            await client.v1.customers.create_async(params={"name": "other"}, options={"idempotency_key": key})
        found = await client.v1.customers.search_async(params={"query": f"metadata['q2c_created_by']:'{key}'"})
        assert [c.id for c in found.data] == [made.customer_id]


async def test_the_emulator_runs_on_both_stores(document_store: DocumentStore, rules: MappingRules) -> None:
    from sandbox.faults import FaultInjector
    from sandbox.servers import serve_apps
    from sandbox.stripe import create_app, seed_stripe
    from workers.dev_server import free_port

    async with serve_apps({"stripe": (create_app(document_store, FaultInjector()), free_port())}) as urls:
        await seed_stripe(urls["stripe"], API_KEY, rules)
        billing = StripeBilling(StripeSettings(api_key=API_KEY, base_url=urls["stripe"]))
        contract = unique_contract(rules)
        customer = await billing.match_or_create_customer(contract.customer, "ERP-1", saga_key("c"))
        ref = await billing.create_subscription(contract, customer.customer_id, saga_key("s"))
        assert await billing.cancel_subscription_created_by("nothing") is None
        assert ref.status == "trialing"
        await billing.aclose()


def test_settings_come_from_the_environment() -> None:
    settings = StripeSettings.from_env(
        {
            "Q2C_STRIPE_API_KEY": "sk_test_x",
            "Q2C_STRIPE_BASE_URL": "http://127.0.0.1:1",
            "Q2C_STRIPE_TEST_CLOCK": "clock_1",
        }
    )

    assert settings.api_key.get_secret_value() == "sk_test_x" and settings.base_url == "http://127.0.0.1:1"
    assert settings.test_clock == "clock_1" and settings.usage_meter_event_name == "api_calls"
    assert StripeSettings.from_env({"Q2C_STRIPE_API_KEY": "sk_live_y"}).base_url == "https://api.stripe.com"


def test_every_adapter_error_names_billing() -> None:
    assert issubclass(NotFoundError, AdapterError)
