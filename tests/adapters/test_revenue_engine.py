"""The revenue port on the built-in engine: the reference deal's allocation, idempotency, withdrawal."""

from __future__ import annotations

import pytest

from adapters.errors import PermanentAdapterError
from adapters.memory.reference_deals import reference_deal
from adapters.revenue_engine import BuiltInRevenueEngine
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory


async def test_registering_the_reference_deal_allocates_its_price_by_relative_ssp(mapping_rules: MappingRules) -> None:
    engine = BuiltInRevenueEngine()
    contract = build_contract(reference_deal(), mapping_rules)

    ref = await engine.register_contract(contract, "sub_1", "closed-won/006NW0000000001/revenue_contract")

    allocation = engine.contracts[ref.revenue_contract_id].allocation
    amounts = {line.obligation.product_code: str(line.amount) for line in allocation.lines}
    assert amounts == {"PLAT-SEAT": "106956.52 USD", "ONB-STD": "16043.48 USD", "API-OVG": "0.00 USD"}
    assert allocation.transaction_price == Money.of("123000.00", "USD")
    assert ref.obligations == 3


async def test_registering_twice_with_one_key_registers_once_and_withdrawal_is_idempotent(
    mapping_rules: MappingRules,
) -> None:
    engine = BuiltInRevenueEngine()
    contract = build_contract(reference_deal(), mapping_rules)

    first = await engine.register_contract(contract, "sub_1", "key")
    again = await engine.register_contract(contract, "sub_1", "key")
    withdrawn = [await engine.withdraw_contract_registered_by("key") for _ in range(2)]

    assert first == again and len(engine.contracts) == 1
    assert withdrawn == [first.revenue_contract_id] * 2
    assert engine.contracts[first.revenue_contract_id].status == "withdrawn"
    assert await engine.withdraw_contract_registered_by("other-key") is None


async def test_an_allocation_the_engine_refuses_is_a_permanent_mapping_problem(mapping_rules: MappingRules) -> None:
    # Onboarding with only an SSP range whose residual falls outside it: finance must fix the mapping.
    products = tuple(
        p.model_copy(update={"ssp": None, "ssp_low": Money.of("40000", "USD"), "ssp_high": Money.of("50000", "USD")})
        if p.product_code == "ONB-STD"
        else p
        for p in mapping_rules.products
    )
    contract = build_contract(reference_deal(), mapping_rules.model_copy(update={"products": products}))

    with pytest.raises(PermanentAdapterError) as refused:
        await BuiltInRevenueEngine().register_contract(contract, "sub_1", "key")

    assert refused.value.category is ExceptionCategory.MAPPING_MISSING
    assert "CTR-006NW0000000001" in str(refused.value)
