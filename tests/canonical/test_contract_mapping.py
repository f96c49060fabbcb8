"""build_contract: a CRM deal becomes a canonical contract, or every problem with it is reported at once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.memory.reference_deals import incomplete_deal, non_standard_deal, reference_deal
from canonical.contract import BillingFrequency, Contract, service_months
from canonical.contract_mapping import build_contract
from canonical.crm_deal import CrmDeal, CrmRampPhaseRecord
from canonical.mapping_rules import MappingRules
from canonical.money import Money, sum_money
from canonical.problems import ExceptionCategory, FieldProblem, InvalidRecordError
from canonical.product import LineKind
from workers.config_files import PROJECT_CONFIG, load_mapping_rules

ACCOUNT = "Account 001NW0000000001"
OPPORTUNITY = "Opportunity 006NW0000000001"


# The shipped rules, read from the project's file (not from Q2C_MAPPING_RULES) so the tests see what ships.
RULES = load_mapping_rules(PROJECT_CONFIG / "mapping-rules.toml")


@pytest.fixture
def rules() -> MappingRules:
    return RULES


def with_account(deal: CrmDeal, **changes: Any) -> CrmDeal:
    return deal.model_copy(update={"account": deal.account.model_copy(update=changes)})


def with_opportunity(deal: CrmDeal, **changes: Any) -> CrmDeal:
    return deal.model_copy(update={"opportunity": deal.opportunity.model_copy(update=changes)})


def with_line(deal: CrmDeal, line_no: int, **changes: Any) -> CrmDeal:
    lines = tuple(line.model_copy(update=changes) if line.line_no == line_no else line for line in deal.lines)
    return deal.model_copy(update={"lines": lines})


def problems_of(deal: CrmDeal, rules: MappingRules) -> tuple[FieldProblem, ...]:
    with pytest.raises(InvalidRecordError) as caught:
        build_contract(deal, rules)
    return caught.value.problems


def the_problem(deal: CrmDeal, rules: MappingRules) -> FieldProblem:
    """The one and only problem with `deal`: one fault is reported once, not again in pydantic's words."""
    problems = problems_of(deal, rules)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def german_deal() -> CrmDeal:
    """The reference deal sold to a German customer in euros, with no legal entity set on the account."""
    deal = with_account(reference_deal(), billing_country="DE", currency="EUR", legal_entity=None, tax_id="DE123456789")
    return with_opportunity(deal, currency="EUR")


# -- the happy path ------------------------------------------------------------------------------------------


def test_reference_deal_becomes_the_expected_contract(rules: MappingRules) -> None:
    contract = build_contract(reference_deal(), rules)

    assert contract.contract_id == "CTR-006NW0000000001"
    assert contract.opportunity_id == "006NW0000000001"
    assert contract.version == 1
    assert contract.owner == "sam.seller"
    assert contract.closed_won_on == date(2026, 12, 15)
    assert (contract.term_start, contract.term_end) == (date(2027, 1, 1), date(2027, 12, 31))
    assert contract.currency == "USD"
    assert contract.mapping_version == rules.version == "2026.11.1"

    customer = contract.customer
    assert customer.crm_account_id == "001NW0000000001"
    assert customer.legal_entity == "US01"
    assert (customer.country, customer.currency, customer.payment_terms_days) == ("US", "USD", 30)
    assert [(t.country, t.value) for t in customer.tax_ids] == [("US", "US-84-1234567")]
    assert (customer.billing_contact.name, customer.billing_contact.email) == ("Dana Reyes", "ap@northwind.example")

    seats, onboarding, usage = contract.lines
    assert [line.line_no for line in contract.lines] == [1, 2, 3]
    assert [line.kind for line in contract.lines] == [LineKind.RECURRING, LineKind.ONE_TIME, LineKind.USAGE]
    assert [line.product_code for line in contract.lines] == ["PLAT-SEAT", "ONB-STD", "API-OVG"]
    assert all(line.mapping == rules.product(line.product_code) for line in contract.lines)

    assert seats.quantity == 100
    assert seats.list_unit_price == Money.of("100.00", "USD")
    assert seats.net_unit_price == Money.of("90.00", "USD")
    assert seats.discount_percent == Decimal(10)
    assert seats.billing_frequency is BillingFrequency.MONTHLY
    assert (seats.service_start, seats.service_end) == (date(2027, 1, 1), date(2027, 12, 31))

    assert onboarding.amount == Money.of("15000.00", "USD")
    assert onboarding.delivered_on == date(2027, 2, 15)

    assert usage.usage is not None
    assert usage.usage.unit == "api_call"
    assert usage.usage.included_per_month == 1_000_000
    assert usage.usage.unit_price_over_included == Money.of("0.002", "USD")

    assert contract.largest_discount_percent == Decimal(10)
    assert contract.total_contract_value == Money.of("123000.00", "USD")


def test_mapping_is_pure(rules: MappingRules) -> None:
    assert build_contract(reference_deal(), rules) == build_contract(reference_deal(), rules)


def test_discount_is_derived_from_list_and_net_price_when_the_crm_has_none(rules: MappingRules) -> None:
    deal = with_line(reference_deal(), 1, discount_percent=None, net_unit_price=Decimal("87.50"))
    assert build_contract(deal, rules).lines[0].discount_percent == Decimal("12.50")


def test_a_lower_case_currency_on_the_deal_is_read_as_the_iso_code(rules: MappingRules) -> None:
    # The account and line currencies are upper-cased, and "usd" vs "USD" is not reported as a mismatch,
    # so the contract currency must be upper-cased as well.
    contract = build_contract(with_opportunity(reference_deal(), currency="usd"), rules)
    assert contract.currency == "USD"
    assert contract.total_contract_value == Money.of("123000.00", "USD")


def test_a_lower_case_account_currency_is_read_as_the_iso_code(rules: MappingRules) -> None:
    deal = with_opportunity(with_account(reference_deal(), currency="usd"), currency=None)
    assert build_contract(deal, rules).currency == "USD"


def test_the_non_standard_and_incomplete_demo_deals(rules: MappingRules) -> None:
    contoso = build_contract(non_standard_deal(), rules)
    assert contoso.customer.legal_entity == "US01"  # routed: the account has none
    assert contoso.largest_discount_percent == Decimal(30)
    assert contoso.total_contract_value == Money.of("210000.00", "USD")  # 250 x 70.00 x 12

    problems = problems_of(incomplete_deal(), rules)
    assert {(p.record, p.field, p.category) for p in problems} == {
        ("Account 001NW0000000003", "tax_id", ExceptionCategory.TAX_FAILURE),
        ("Account 001NW0000000003", "billing_contact", ExceptionCategory.MASTER_DATA_MISMATCH),
    }


# -- legal entity routing -----------------------------------------------------------------------------------


def test_a_us_dollar_customer_without_legal_entity_is_routed_to_us01(rules: MappingRules) -> None:
    deal = with_account(reference_deal(), legal_entity=None)
    assert build_contract(deal, rules).customer.legal_entity == "US01"


def test_a_german_euro_customer_without_legal_entity_is_routed_to_de01(rules: MappingRules) -> None:
    contract = build_contract(german_deal(), rules)
    assert contract.customer.legal_entity == "DE01"
    assert contract.currency == "EUR"
    assert {currency for line in contract.lines for currency in line.currencies()} == {"EUR"}
    assert contract.total_contract_value == Money.of("123000.00", "EUR")


def test_a_customer_no_legal_entity_sells_to_is_reported(rules: MappingRules) -> None:
    # DE01 sells in euros, US01 sells in the US: nobody sells to Germany in dollars.
    deal = with_opportunity(with_account(german_deal(), currency="USD"), currency="USD")
    problem = the_problem(deal, rules)
    assert (problem.record, problem.field) == (ACCOUNT, "legal_entity")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "no legal entity sells in DE / USD" in problem.message


# -- one problem at a time ----------------------------------------------------------------------------------


def test_an_unmapped_product_code_is_a_missing_mapping(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 1, product_code="PLAT-GOLD"), rules)
    assert problem.record == f"Quote line 1 (PLAT-GOLD) of {OPPORTUNITY}"
    assert problem.field == "product_code"
    assert problem.category is ExceptionCategory.MAPPING_MISSING
    assert f"'PLAT-GOLD' has no mapping in rules version {rules.version}" in problem.message


def test_a_quote_line_without_product_code_is_a_missing_mapping(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 2, product_code=None), rules)
    assert (problem.record, problem.field) == (f"Quote line 2 (no product) of {OPPORTUNITY}", "product_code")
    assert problem.category is ExceptionCategory.MAPPING_MISSING


def test_a_missing_tax_id_is_a_tax_failure_reported_once(rules: MappingRules) -> None:
    problem = the_problem(with_account(reference_deal(), tax_id=None), rules)
    assert (problem.record, problem.field) == (ACCOUNT, "tax_id")
    assert problem.category is ExceptionCategory.TAX_FAILURE
    assert problem.message == "a tax ID is required for customers in US"


def test_a_country_without_tax_rule_is_a_tax_failure(rules: MappingRules) -> None:
    without_us_tax = rules.model_copy(update={"tax": tuple(t for t in rules.tax if t.country != "US")})
    problem = the_problem(reference_deal(), without_us_tax)
    assert (problem.record, problem.field) == (ACCOUNT, "billing_country")
    assert problem.category is ExceptionCategory.TAX_FAILURE
    assert "no tax code is mapped for US" in problem.message


def test_a_legal_entity_that_does_not_sell_in_the_country_and_currency_is_a_master_data_mismatch(
    rules: MappingRules,
) -> None:
    problem = the_problem(with_account(reference_deal(), legal_entity="DE01"), rules)
    assert (problem.record, problem.field) == (ACCOUNT, "legal_entity")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "DE01 does not sell in US / USD" in problem.message


def test_an_unknown_legal_entity_is_a_master_data_mismatch(rules: MappingRules) -> None:
    problem = the_problem(with_account(reference_deal(), legal_entity="XX99"), rules)
    assert (problem.record, problem.field) == (ACCOUNT, "legal_entity")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "'XX99' is not a legal entity in the mapping rules" in problem.message


@pytest.mark.parametrize("days", [15, 400])
def test_unmapped_payment_terms_are_a_missing_mapping_reported_once(rules: MappingRules, days: int) -> None:
    problem = the_problem(with_account(reference_deal(), payment_terms_days=days), rules)
    assert (problem.record, problem.field) == (ACCOUNT, "payment_terms_days")
    assert problem.category is ExceptionCategory.MAPPING_MISSING
    assert f"no payment terms are mapped for {days} days" in problem.message


def test_a_missing_billing_contact_is_a_master_data_mismatch_reported_once(rules: MappingRules) -> None:
    deal = with_account(reference_deal(), billing_contact_name=None, billing_contact_email=None)
    problem = the_problem(deal, rules)
    assert (problem.record, problem.field) == (ACCOUNT, "billing_contact")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "no billing contact" in problem.message


def test_a_billing_contact_without_email_names_the_email_field(rules: MappingRules) -> None:
    problem = the_problem(with_account(reference_deal(), billing_contact_email=None), rules)
    assert (problem.record, problem.field) == (ACCOUNT, "billing_contact.email")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH


@pytest.mark.parametrize("stage", ["Negotiation", "Closed Lost", "closed won", None])
def test_a_deal_that_is_not_closed_won_is_refused(rules: MappingRules, stage: str | None) -> None:
    problem = the_problem(with_opportunity(reference_deal(), stage=stage), rules)
    assert (problem.record, problem.field) == (OPPORTUNITY, "stage")
    assert "not 'Closed Won'" in problem.message


def test_an_opportunity_currency_other_than_the_account_currency_is_a_master_data_mismatch(
    rules: MappingRules,
) -> None:
    problem = the_problem(with_opportunity(reference_deal(), currency="EUR"), rules)
    assert (problem.record, problem.field) == (OPPORTUNITY, "currency")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "EUR differs from the account's USD" in problem.message


def test_an_opportunity_for_another_account_is_a_master_data_mismatch(rules: MappingRules) -> None:
    problem = the_problem(with_opportunity(reference_deal(), account_id="001NW0000000999"), rules)
    assert (problem.record, problem.field) == (OPPORTUNITY, "account_id")
    assert problem.category is ExceptionCategory.MASTER_DATA_MISMATCH


def test_a_quote_line_in_another_currency_is_refused(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 2, currency="EUR"), rules)
    assert (problem.record, problem.field) == (f"Quote line 2 (ONB-STD) of {OPPORTUNITY}", "currency")
    assert "EUR differs from the deal's USD" in problem.message


def test_a_deal_without_quote_lines_is_refused(rules: MappingRules) -> None:
    problem = the_problem(reference_deal().model_copy(update={"lines": ()}), rules)
    assert (problem.record, problem.field) == (OPPORTUNITY, "lines")
    assert "no quote lines" in problem.message


def test_a_recurring_line_without_quantity_names_the_quote_line(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 1, quantity=None), rules)
    assert problem.record == f"Quote line 1 (PLAT-SEAT) of {OPPORTUNITY}"
    assert problem.field == "quantity"
    assert problem.category is ExceptionCategory.INVALID_DATA


def test_a_negative_quantity_names_the_quote_line(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 1, quantity=Decimal(-3)), rules)
    assert (problem.record, problem.field) == (f"Quote line 1 (PLAT-SEAT) of {OPPORTUNITY}", "quantity")


def test_a_line_outside_the_contract_term_names_the_opportunity(rules: MappingRules) -> None:
    problem = the_problem(with_line(reference_deal(), 1, service_end=date(2028, 6, 30)), rules)
    assert problem.record == OPPORTUNITY
    assert "line 1's service period lies outside the contract term" in problem.message


# -- every problem at once ----------------------------------------------------------------------------------


def test_every_problem_of_a_deal_is_reported_at_once(rules: MappingRules) -> None:
    deal = with_account(
        reference_deal(),
        tax_id=None,
        payment_terms_days=15,
        billing_contact_name=None,
        billing_contact_email=None,
    )
    deal = with_opportunity(deal, stage="Negotiation")
    deal = with_line(deal, 1, product_code="PLAT-GOLD")
    deal = with_line(deal, 2, currency="EUR")

    with pytest.raises(InvalidRecordError) as caught:
        build_contract(deal, rules)

    problems = caught.value.problems
    assert {(p.record, p.field, p.category) for p in problems} == {
        (OPPORTUNITY, "stage", ExceptionCategory.INVALID_DATA),
        (ACCOUNT, "tax_id", ExceptionCategory.TAX_FAILURE),
        (ACCOUNT, "payment_terms_days", ExceptionCategory.MAPPING_MISSING),
        (ACCOUNT, "billing_contact", ExceptionCategory.MASTER_DATA_MISMATCH),
        (f"Quote line 1 (PLAT-GOLD) of {OPPORTUNITY}", "product_code", ExceptionCategory.MAPPING_MISSING),
        (f"Quote line 2 (ONB-STD) of {OPPORTUNITY}", "currency", ExceptionCategory.INVALID_DATA),
    }
    assert len(problems) == 6  # nothing twice
    message = str(caught.value)
    assert all(str(p) in message for p in problems)
    assert f"{ACCOUNT}, field tax_id: a tax ID is required for customers in US" in message


def test_a_field_is_never_reported_twice(rules: MappingRules) -> None:
    # An account missing nearly everything: each field it lacks is named once.
    deal = with_account(
        reference_deal(),
        name=None,
        legal_entity=None,
        billing_country=None,
        currency=None,
        tax_id=None,
        billing_contact_name=None,
        billing_contact_email=None,
        payment_terms_days=None,
    )
    problems = problems_of(deal, rules)
    counts = Counter((p.record, p.field) for p in problems)
    assert all(count == 1 for count in counts.values()), counts
    assert {(ACCOUNT, "billing_contact"), (ACCOUNT, "legal_entity"), (ACCOUNT, "name")} <= set(counts)
    assert all(p.record and p.field and p.message for p in problems)


# -- never anything but a contract or InvalidRecordError ------------------------------------------------------

# Any decimal, including magnitudes far from any real price (10^-40 .. 10^46): the CRM is where typos come from.
any_decimal = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    Decimal.scaleb, st.integers(-(10**6), 10**6).map(Decimal), st.integers(-40, 40)
)
amounts = st.none() | any_decimal
dates = st.none() | st.dates() | st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
currency_codes = st.none() | st.sampled_from(["USD", "usd", "EUR", "JPY", "KWD", "XYZ", ""]) | st.text(max_size=4)
ramp_phases = st.lists(
    st.builds(CrmRampPhaseRecord, start=dates, end=dates, quantity=amounts, net_unit_price=amounts), max_size=3
).map(tuple)


def contract_or_problems(deal: CrmDeal, rules: MappingRules) -> Contract | InvalidRecordError:
    """build_contract's answer: a contract, or InvalidRecordError; any other exception fails the test."""
    try:
        contract = build_contract(deal, rules)
    except InvalidRecordError as error:
        assert error.problems
        assert all(p.record and p.field and p.message for p in error.problems)
        return error
    assert isinstance(contract, Contract)
    assert contract.customer.currency == contract.currency
    assert Contract.model_validate_json(contract.model_dump_json()) == contract
    return contract


property_settings = settings(max_examples=400, deadline=None)


@property_settings
@given(
    quantity=amounts,
    list_price=amounts,
    net_price=amounts,
    discount=amounts,
    one_time_amount=amounts,
    overage_price=amounts,
    included=amounts,
)
@example(  # no discount given, and a net price 10^25 times the list price: the discount has 30 digits
    quantity=Decimal(100),
    list_price=Decimal(1),
    net_price=Decimal("1E+25"),
    discount=None,
    one_time_amount=Decimal("15000.00"),
    overage_price=Decimal("0.002"),
    included=Decimal(0),
)
def test_any_quantities_and_prices_give_a_contract_or_problems(
    quantity: Decimal | None,
    list_price: Decimal | None,
    net_price: Decimal | None,
    discount: Decimal | None,
    one_time_amount: Decimal | None,
    overage_price: Decimal | None,
    included: Decimal | None,
) -> None:
    deal = with_line(
        reference_deal(),
        1,
        quantity=quantity,
        list_unit_price=list_price,
        net_unit_price=net_price,
        discount_percent=discount,
    )
    deal = with_line(deal, 2, amount=one_time_amount)
    deal = with_line(deal, 3, unit_price_over_included=overage_price, included_per_month=included)
    contract_or_problems(deal, RULES)


@property_settings
@given(
    contract_start=dates,
    contract_end=dates,
    service_start=dates,
    service_end=dates,
    delivered_on=dates,
    phases=ramp_phases,
)
def test_any_dates_and_ramp_phases_give_a_contract_or_problems(
    contract_start: date | None,
    contract_end: date | None,
    service_start: date | None,
    service_end: date | None,
    delivered_on: date | None,
    phases: tuple[CrmRampPhaseRecord, ...],
) -> None:
    deal = with_opportunity(reference_deal(), contract_start=contract_start, contract_end=contract_end)
    deal = with_line(deal, 1, service_start=service_start, service_end=service_end, ramp_phases=phases)
    deal = with_line(deal, 2, delivered_on=delivered_on)
    contract_or_problems(deal, RULES)


@property_settings
@given(
    account_currency=currency_codes,
    opportunity_currency=currency_codes,
    line_currencies=st.tuples(currency_codes, currency_codes, currency_codes),
)
def test_any_currency_codes_give_a_contract_or_problems(
    account_currency: str | None,
    opportunity_currency: str | None,
    line_currencies: tuple[str | None, str | None, str | None],
) -> None:
    deal = with_opportunity(with_account(reference_deal(), currency=account_currency), currency=opportunity_currency)
    for line_no, currency in enumerate(line_currencies, start=1):
        deal = with_line(deal, line_no, currency=currency)
    answer = contract_or_problems(deal, RULES)
    if isinstance(answer, Contract):
        assert answer.currency == "USD"  # only the account's own currency maps for a US01 customer


@property_settings
@given(dates=st.lists(st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 12, 31)), min_size=1, max_size=4))
def test_contiguous_ramp_phases_within_the_term_always_map(dates: list[date]) -> None:
    # Phases cut at any days of 2027 map, and the line commits what its phases commit.
    cuts = sorted(set(dates) - {date(2027, 1, 1)})
    starts = [date(2027, 1, 1), *cuts]
    ends = [*(cut - timedelta(days=1) for cut in cuts), date(2027, 12, 31)]
    phases = tuple(
        CrmRampPhaseRecord(start=start, end=end, quantity=Decimal(10 * n), net_unit_price=Decimal("90.00"))
        for n, (start, end) in enumerate(zip(starts, ends, strict=True), start=1)
    )
    contract = build_contract(with_line(reference_deal(), 1, ramp_phases=phases), RULES)
    seats = contract.lines[0]
    assert len(seats.ramp_phases) == len(phases)
    assert seats.committed_value("USD") == sum_money(
        (p.net_unit_price * p.quantity * service_months(p.start, p.end) for p in seats.ramp_phases), "USD"
    )


def test_a_ramp_phase_ending_on_the_last_calendar_day_is_reported_not_crashed(rules: MappingRules) -> None:
    last_day = date.max
    phases = (
        CrmRampPhaseRecord(start=date(2027, 1, 1), end=last_day, quantity=Decimal(50), net_unit_price=Decimal(90)),
        CrmRampPhaseRecord(start=date(2027, 7, 1), end=last_day, quantity=Decimal(100), net_unit_price=Decimal(90)),
    )
    deal = with_opportunity(reference_deal(), contract_end=last_day)
    deal = with_line(deal, 1, service_end=last_day, ramp_phases=phases)
    problem = the_problem(deal, rules)
    assert problem.record == f"Quote line 1 (PLAT-SEAT) of {OPPORTUNITY}"
    assert "contiguous" in problem.message


def test_an_absurd_net_price_against_its_list_price_is_reported_not_crashed(rules: MappingRules) -> None:
    # With no discount given, build_contract derives it from list and net price; a net price 10^30 times the
    # list price (a data-entry slip) must come back as a problem on the quote line, not a decimal error.
    deal = with_line(
        reference_deal(), 1, discount_percent=None, list_unit_price=Decimal("1"), net_unit_price=Decimal("1E+30")
    )
    problem = the_problem(deal, rules)
    assert problem.record == f"Quote line 1 (PLAT-SEAT) of {OPPORTUNITY}"
    assert problem.field in {"discount_percent", "list_unit_price", "net_unit_price"}
