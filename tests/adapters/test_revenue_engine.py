"""The revenue port on the built-in engine: the reference deal's allocation, idempotency, withdrawal."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.errors import PermanentAdapterError
from adapters.memory.reference_deals import reference_deal
from adapters.revenue_engine import BuiltInRevenueEngine
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory


async def test_registering_the_reference_deal_allocates_its_price_by_relative_ssp(
    mapping_rules: MappingRules, revenue_engine: BuiltInRevenueEngine
) -> None:
    contract = build_contract(reference_deal(), mapping_rules)

    ref = await revenue_engine.register_contract(contract, "sub_1", "closed-won/006NW0000000001/revenue_contract")

    registered = revenue_engine.contracts[ref.revenue_contract_id]
    amounts = {line.obligation.product_code: str(line.amount) for line in registered.allocation.lines}
    assert amounts == {"PLAT-SEAT": "106956.52 USD", "ONB-STD": "16043.48 USD", "API-OVG": "0.00 USD"}
    assert registered.allocation.transaction_price == Money.of("123000.00", "USD")
    assert (registered.billing_subscription_id, registered.legal_entity, registered.status) == (
        "sub_1",
        "US01",
        "active",
    )
    assert ref.obligations == 3


async def test_registering_twice_with_one_key_registers_once_and_withdrawal_is_idempotent(
    mapping_rules: MappingRules, revenue_engine: BuiltInRevenueEngine
) -> None:
    contract = build_contract(reference_deal(), mapping_rules)

    first = await revenue_engine.register_contract(contract, "sub_1", "key")
    again = await revenue_engine.register_contract(contract, "sub_1", "key")
    withdrawn = [await revenue_engine.withdraw_contract_registered_by("key") for _ in range(2)]

    assert first == again and len(revenue_engine.contracts) == 1
    assert withdrawn == [first.revenue_contract_id] * 2
    assert revenue_engine.contracts[first.revenue_contract_id].status == "withdrawn"
    assert await revenue_engine.withdraw_contract_registered_by("other-key") is None


async def test_a_second_key_for_an_active_contract_gets_it_but_cannot_withdraw_it(
    mapping_rules: MappingRules, revenue_engine: BuiltInRevenueEngine
) -> None:
    contract = build_contract(reference_deal(), mapping_rules)

    first = await revenue_engine.register_contract(contract, "sub_1", "saga-1")
    second = await revenue_engine.register_contract(contract, "sub_1", "saga-2")

    assert second == first
    assert await revenue_engine.withdraw_contract_registered_by("saga-2") is None
    assert revenue_engine.contracts[first.revenue_contract_id].status == "active"
    assert await revenue_engine.withdraw_contract_registered_by("saga-1") == first.revenue_contract_id
    again = await revenue_engine.register_contract(contract, "sub_2", "saga-3")  # after withdrawal: anew
    assert again == first
    assert revenue_engine.contracts[first.revenue_contract_id].billing_subscription_id == "sub_2"
    assert revenue_engine.contracts[first.revenue_contract_id].status == "active"


async def test_an_allocation_the_engine_refuses_is_a_permanent_mapping_problem(
    mapping_rules: MappingRules, revenue_engine: BuiltInRevenueEngine
) -> None:
    # Onboarding with only an SSP range whose residual falls outside it: finance must fix the mapping.
    products = tuple(
        p.model_copy(update={"ssp": None, "ssp_low": Money.of("40000", "USD"), "ssp_high": Money.of("50000", "USD")})
        if p.product_code == "ONB-STD"
        else p
        for p in mapping_rules.products
    )
    contract = build_contract(reference_deal(), mapping_rules.model_copy(update={"products": products}))

    with pytest.raises(PermanentAdapterError) as refused:
        await revenue_engine.register_contract(contract, "sub_1", "key")

    assert refused.value.category is ExceptionCategory.MAPPING_MISSING
    assert "CTR-006NW0000000001" in str(refused.value)
    assert revenue_engine.contracts == {}


async def test_without_a_database_url_the_engine_keeps_its_events_in_memory(mapping_rules: MappingRules) -> None:
    async with BuiltInRevenueEngine() as engine:
        ref = await engine.register_contract(build_contract(reference_deal(), mapping_rules), "sub_1", "key")
        assert engine.contracts[ref.revenue_contract_id].status == "active"


async def test_an_engine_on_a_sqlite_file_finds_its_registrations_when_opened_again(
    mapping_rules: MappingRules, tmp_path: Path
) -> None:
    contract = build_contract(reference_deal(), mapping_rules)
    engine = await BuiltInRevenueEngine.on_sqlite_file(tmp_path / "revenue.sqlite")
    try:
        ref = await engine.register_contract(contract, "sub_1", "key")
    finally:
        await engine.aclose()

    again = await BuiltInRevenueEngine.on_sqlite_file(tmp_path / "revenue.sqlite")
    try:
        assert again.contracts[ref.revenue_contract_id].contract == contract
        assert await again.withdraw_contract_registered_by("key") == ref.revenue_contract_id
    finally:
        await again.aclose()
