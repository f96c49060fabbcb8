"""Contract modifications, ASC 606-10-25-12/13 (IFRS 15 ¶20-21), with the standard's own examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from canonical.money import sum_money
from revenue.allocation import allocate_transaction_price
from revenue.calendar import calendar_months
from revenue.ledger import Ledger, post_catch_ups, post_revenue
from revenue.modifications import (
    ContractModification,
    ModificationFacts,
    PriceConcession,
    Treatment,
    choose_treatment,
    modify_contract,
)
from revenue.obligations import PerformanceObligation, Satisfaction, obligations_from_contract
from revenue.recognition import RevenuePlan, plan_contract, recognised_by, schedule
from tests.revenue.builders import obligation, usd
from tests.revenue.reference import reference_contract, reference_modification

YEAR = calendar_months(date(2027, 1, 1), date(2027, 12, 31))


def test_the_treatment_follows_the_facts() -> None:
    assert choose_treatment(ModificationFacts(True, True, True)) is Treatment.SEPARATE_CONTRACT
    assert choose_treatment(ModificationFacts(True, False, True)) is Treatment.TERMINATION_AND_NEW_CONTRACT
    assert choose_treatment(ModificationFacts(False, True, True)) is Treatment.TERMINATION_AND_NEW_CONTRACT
    assert choose_treatment(ModificationFacts(True, False, False)) is Treatment.CUMULATIVE_CATCH_UP


def example_5() -> tuple[list[PerformanceObligation], tuple[RevenuePlan, ...]]:
    """ASC 606-10-55-111: 120 products for 12,000 (100 each), transferred over six months, each at a point in
    time; the contract is modified after 60 have been transferred. Modelled as two deliveries of 60."""
    products = [
        obligation(name, consideration=6000, ssp=100, quantity=60, milestone=day, product_code="PRODUCT")
        for name, day in (("first-60", date(2027, 2, 28)), ("next-60", date(2027, 5, 31)))
    ]
    plans = plan_contract(allocate_transaction_price(products))
    return products, plans


def added_products(price: int) -> PerformanceObligation:
    return obligation(
        "added-30", consideration=30 * price, ssp=95, quantity=30, milestone=date(2027, 6, 30), product_code="PRODUCT"
    )


def test_example_5_case_a_additional_products_at_their_standalone_selling_price() -> None:
    """55-112..113: 30 more products for 2,850 (95 each), which reflects their SSP, and distinct: a separate
    contract. Revenue stays 100 a product for the original 120 and is 95 a product for the 30."""
    products, plans = example_5()
    change = ContractModification(date(2027, 4, 1), ModificationFacts(True, True, True), (added_products(95),))

    result = modify_contract(products, plans, change)

    assert result.treatment is Treatment.SEPARATE_CONTRACT
    assert result.allocation.amount_for("C1#added-30") == usd(2850)
    assert result.plans[:2] == plans  # the original contract is untouched: 6,000 for each 60
    assert result.catch_ups == ()


def test_example_5_case_b_prospective_with_a_concession() -> None:
    """55-114..116: the 30 are priced at 80 (not their SSP) less a 15-a-product credit for defects in the 60
    already delivered: 1,500 = 2,400 - 900. The 900 reduces revenue at once (55-115); the remaining products
    are distinct, so the old contract ends and a new one begins (25-13(a)): the 90 remaining products are
    recognised at a blended 93.33 = (100 x 60 + 80 x 30) / 90, i.e. 8,400 over 90. Identical products have
    the same SSP at the modification date (95), so the split is 60:30."""
    products, plans = example_5()
    change = ContractModification(
        date(2027, 4, 1),
        ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True),
        (added_products(80),),
        concessions=(PriceConcession("C1#first-60", usd(900)),),
        standalone_prices={"PRODUCT": usd(95)},
    )

    result = modify_contract(products, plans, change)

    assert result.treatment is Treatment.TERMINATION_AND_NEW_CONTRACT
    assert result.allocation.transaction_price == usd(8400)
    assert result.allocation.amount_for("C1#next-60") == usd(5600)  # 60 x 93.33...
    assert result.allocation.amount_for("C1#added-30") == usd(2800)  # 30 x 93.33...
    assert {
        (amount.amount / units).quantize(Decimal("0.01")) for amount, units in ((usd(5600), 60), (usd(2800), 30))
    } == {Decimal("93.33")}
    assert [(c.obligation_id, c.amount) for c in result.catch_ups] == [("C1#first-60", usd(-900))]
    by_id = {p.obligation_id: p for p in result.plans}
    assert by_id["C1#first-60"].total == usd(5100)  # 6,000 less the 900 credit, booked on the modification date
    assert sum_money((p.total for p in result.plans), "USD") == usd(13500)  # 12,000 + 1,500


def test_example_8_cumulative_catch_up() -> None:
    """ASC 606-10-55-129..133: a building for 1,000,000 plus a 200,000 bonus (constrained at first); costs of
    700,000 expected. After year one, 60% complete (420,000 / 700,000): 600,000 recognised. The modification
    adds 150,000 and 120,000 of costs, and the bonus is now included: 1,350,000. The remaining goods are not
    distinct (one obligation), so a cumulative catch-up: 51.2% (420,000 / 820,000) x 1,350,000 = 691,200;
    revenue rises by 91,200 on the modification date."""
    building = obligation(
        "building",
        consideration=1_000_000,
        ssp=1_000_000,
        satisfaction=Satisfaction.OVER_TIME,
        start=date(2027, 1, 1),
        end=date(2028, 12, 31),
    )
    plans = plan_contract(allocate_transaction_price([building]))
    change = ContractModification(
        date(2028, 1, 1), ModificationFacts(False, False, False), additional_consideration=usd(350_000)
    )

    result = modify_contract(
        [building],
        plans,
        change,
        recognised_to_date={building.obligation_id: usd(600_000)},
        progress={building.obligation_id: Decimal("0.512")},
    )

    assert result.treatment is Treatment.CUMULATIVE_CATCH_UP
    assert result.allocation.transaction_price == usd(1_350_000)
    assert [c.amount for c in result.catch_ups] == [usd(91_200)]
    plan = result.plans[0]
    assert plan.total == usd(1_350_000)
    assert recognised_by(plan, date(2028, 1, 1)) >= usd(691_200)  # caught up, then ratable again
    year_one = {building.obligation_id: usd(600_000)}  # measured by costs, as the example does
    ledger, _ = post_revenue(Ledger.open([building]), "C1", date(2027, 12, 31), year_one)
    ledger, (entry,) = post_catch_ups(ledger, result.catch_ups)
    assert ledger.recognised_for(building.obligation_id) == usd(691_200)
    assert [(p.account, p.amount) for p in entry.postings] == [("1300", usd(91_200)), ("4000", usd(-91_200))]


def test_reference_amendment_is_prospective() -> None:
    """15 July: 100 → 150 seats at 90.00 and the premium module at 2,000 a month (its SSP), co-terminated.
    Distinct, not all at SSP (the seats are discounted), remaining services distinct → 25-13(a).

    Unrecognised platform consideration 106,956.52 - 57,141.15 = 49,815.37, plus 24,967.74 for 50 seats and
    11,096.77 for the module over 5 + 17/31 months: 85,879.88, allocated by SSPs for the same stretch,
    55,483.87 : 27,741.94 : 11,096.77."""
    obligations = obligations_from_contract(reference_contract())
    plans = plan_contract(allocate_transaction_price(obligations))
    change = reference_modification(obligations)

    result = modify_contract(obligations, plans, change)

    assert result.treatment is Treatment.TERMINATION_AND_NEW_CONTRACT
    allocation = {line.obligation.product_code + str(line.obligation.line_no): line for line in result.allocation.lines}
    assert result.allocation.transaction_price == usd("85879.88")
    assert [allocation[k].standalone_selling_price for k in ("PLAT-SEAT1", "PLAT-SEAT4", "PREM-MOD5")] == [
        usd("55483.87"),
        usd("27741.94"),
        usd("11096.77"),
    ]
    assert [allocation[k].amount for k in ("PLAT-SEAT1", "PLAT-SEAT4", "PREM-MOD5")] == [
        usd("50517.58"),
        usd("25258.79"),
        usd("10103.51"),
    ]
    platform = schedule(result.plans[0], YEAR)
    original = schedule(plans[0], YEAR)
    assert platform.minor_units[:6] == original.minor_units[:6]  # history is not restated
    assert platform.amount_in("2027-07") == usd("9154.20")  # 4,102.44 to 14 July + 5,051.76 from 15 July
    assert platform.total == usd("57141.15") + usd("50517.58")
    fixed = [p for p in result.plans if not p.obligation_id.endswith("#3")]
    assert sum_money((p.total for p in fixed), "USD") == usd("159064.51")  # 123,000 + 24,967.74 + 11,096.77
    assert result.catch_ups == ()
    last = change.effective - timedelta(days=1)
    assert all(
        recognised_by(new, last) == recognised_by(old, last) for new, old in zip(result.plans, plans, strict=False)
    )
