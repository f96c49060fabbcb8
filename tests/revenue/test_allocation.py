"""Allocating the transaction price: the reference deal, and ASC 606-10-55-256..269 (Example 34) with its numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.product import SspBasis
from revenue.allocation import (
    Allocation,
    AllocationError,
    AllocationMethod,
    DiscountedBundle,
    ResidualOutOfRangeError,
    allocate_transaction_price,
    standalone_selling_price,
)
from revenue.obligations import PerformanceObligation, Satisfaction, obligations_from_contract
from tests.revenue.builders import obligation, usage_obligation, usd
from tests.revenue.reference import reference_contract


def amounts(allocation: Allocation) -> dict[str, str]:
    return {line.obligation.obligation_id.split("#")[1]: str(line.amount.amount) for line in allocation.lines}


def test_reference_deal_relative_ssp() -> None:
    """Fixed price 108,000 + 15,000 = 123,000; SSPs 100 x 1,200 x 1 year = 120,000 and 18,000.

    Exact shares are 106,956.5217 and 16,043.4783; flooring to cents leaves one cent, which the largest
    remainder (onboarding's .83 against the platform's .17) takes.
    """
    allocation = allocate_transaction_price(obligations_from_contract(reference_contract()))

    assert allocation.transaction_price == usd("123000.00")
    platform, onboarding, api = allocation.lines
    assert (platform.standalone_selling_price, onboarding.standalone_selling_price) == (usd(120000), usd(18000))
    assert (platform.amount, onboarding.amount) == (usd("106956.52"), usd("16043.48"))
    assert api.amount == usd(0) and api.method is AllocationMethod.VARIABLE_CONSIDERATION


def example_34_products() -> list[PerformanceObligation]:
    """ASC 606-10-55-256: Products A, B and C sell individually for 40, 55 and 45 (140 in all); B and C
    are regularly sold together for 60."""
    return [obligation(name, ssp=price) for name, price in (("A", 40), ("B", 55), ("C", 45))]


def test_example_34_without_evidence_the_discount_is_shared_in_proportion() -> None:
    """55-258: the discount of 40 "would be allocated proportionately to all 3 performance obligations when
    allocating the transaction price using the relative standalone selling price method" (32-36)."""
    allocation = allocate_transaction_price(example_34_products(), transaction_price=usd(100))

    # 100 x 40/140, 55/140, 45/140 = 28.571, 39.286, 32.143: the spare cent goes to B's larger remainder.
    assert amounts(allocation) == {"A": "28.57", "B": "39.29", "C": "32.14"}


def test_example_34_case_a_discount_to_one_or_more_obligations() -> None:
    """55-257..260: contract price 100; B and C regularly sell together for 60, so the whole discount of 40
    belongs to them (32-37): A 40, B 33 (55/100 x 60), C 27 (45/100 x 60)."""
    bundle = DiscountedBundle(frozenset({"C1#B", "C1#C"}), usd(60))

    allocation = allocate_transaction_price(example_34_products(), transaction_price=usd(100), bundle=bundle)

    assert amounts(allocation) == {"A": "40.00", "B": "33.00", "C": "27.00"}


def test_example_34_case_b_residual_approach_is_appropriate() -> None:
    """55-261..264: A, B, C and D for 130; D's SSP is highly variable (15 to 45). After A 40 and B+C 60,
    the residual approach estimates D at 30, within the range."""
    products = [*example_34_products(), obligation("D", ssp_range=(15, 45))]
    bundle = DiscountedBundle(frozenset({"C1#B", "C1#C"}), usd(60))

    allocation = allocate_transaction_price(products, transaction_price=usd(130), bundle=bundle)

    assert amounts(allocation) == {"A": "40.00", "B": "33.00", "C": "27.00", "D": "30.00"}
    assert allocation.line("C1#D").method is AllocationMethod.RESIDUAL
    assert allocation.line("C1#D").standalone_selling_price == usd(30)


def test_example_34_case_c_residual_approach_is_refused_outside_the_range() -> None:
    """55-265..266: the same but for 105: the residual would be 5, which does not approximate D's SSP (15-45)."""
    products = [*example_34_products(), obligation("D", ssp_range=(15, 45))]
    bundle = DiscountedBundle(frozenset({"C1#B", "C1#C"}), usd(60))

    with pytest.raises(ResidualOutOfRangeError, match=r"C1#D .*5\.00 USD, outside its range 15 USD\.\.45 USD") as error:
        allocate_transaction_price(products, transaction_price=usd(105), bundle=bundle)
    assert error.value.obligation_id == "C1#D"


def test_residual_without_a_bundle_leaves_the_others_at_their_ssp() -> None:
    products = [obligation("A", ssp=40), obligation("D", ssp_range=(15, 45))]

    assert amounts(allocate_transaction_price(products, transaction_price=usd(70))) == {"A": "40.00", "D": "30.00"}


def test_usage_takes_no_share_of_the_fixed_price() -> None:
    """ASC 606-10-32-40: variable consideration that relates to usage goes to the usage obligation alone."""
    allocation = allocate_transaction_price([obligation("A", consideration=100, ssp=40), usage_obligation()])

    assert amounts(allocation) == {"A": "100.00", "usage": "0.00"}


def test_unit_per_year_scales_by_quantity_and_months() -> None:
    """Years are months / 12, as the contract value is measured: a leap year is one year, July 15 to
    December 31 is 5 + 17/31 months."""
    leap = obligation(
        "P",
        ssp=1200,
        quantity=10,
        basis=SspBasis.UNIT_PER_YEAR,
        satisfaction=Satisfaction.OVER_TIME,
        start=date(2028, 1, 1),
        end=date(2028, 12, 31),
    )
    part = obligation(
        "Q",
        ssp=24000,
        basis=SspBasis.UNIT_PER_YEAR,
        satisfaction=Satisfaction.OVER_TIME,
        start=date(2027, 7, 15),
        end=date(2027, 12, 31),
    )

    assert standalone_selling_price(leap) == usd(12000)
    assert standalone_selling_price(part) == (usd(2000) * (5 + Decimal(17) / 31)).rounded() == usd("11096.77")


def test_errors_name_the_obligation() -> None:
    with pytest.raises(AllocationError, match=r"C1#X .* has no standalone selling price"):
        allocate_transaction_price([obligation("X", consideration=10)])
    two_ranges = [obligation("X", ssp_range=(1, 9)), obligation("Y", ssp_range=(1, 9))]
    with pytest.raises(AllocationError, match="C1#X, C1#Y"):
        allocate_transaction_price(two_ranges, transaction_price=usd(10))
