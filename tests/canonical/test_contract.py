"""The strict canonical models: what they refuse (naming the model and the field), and what they compute."""

from __future__ import annotations

import calendar
import json
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from adapters.memory.reference_deals import reference_deal
from canonical.contract import Contract, ContractLine, RampPhase, discount_percent, service_months
from canonical.contract_mapping import build_contract
from canonical.customer import Customer
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import FieldProblem, problems_from_validation_error
from canonical.product import LineKind, ProductMapping
from canonical.saga import ClosedWonState
from canonical.saga_policy import SagaPolicy
from workers.config_files import PROJECT_CONFIG, load_mapping_rules

# The shipped rules, read from the project's file (not from Q2C_MAPPING_RULES) so the tests see what ships.
RULES = load_mapping_rules(PROJECT_CONFIG / "mapping-rules.toml")
WHOLE_YEAR = {"service_start": date(2027, 1, 1), "service_end": date(2027, 12, 31)}


def mapping(product_code: str) -> ProductMapping:
    found = RULES.product(product_code)
    assert found is not None, product_code
    return found


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def customer(**overrides: Any) -> dict[str, Any]:
    return {
        "crm_account_id": "001NW0000000001",
        "name": "Northwind Analytics Inc.",
        "legal_entity": "US01",
        "currency": "USD",
        "country": "US",
        "tax_ids": [{"country": "US", "value": "US-84-1234567"}],
        "billing_contact": {"name": "Dana Reyes", "email": "ap@northwind.example"},
        "payment_terms_days": 30,
    } | overrides


def recurring_line(**overrides: Any) -> dict[str, Any]:
    """100 seats at 90.00 USD per seat and month (list 100.00), for 2027."""
    return {
        "line_no": 1,
        "product_code": "PLAT-SEAT",
        "kind": "recurring",
        "quantity": "100",
        "list_unit_price": usd("100.00"),
        "net_unit_price": usd("90.00"),
        "discount_percent": "10",
        **WHOLE_YEAR,
        "mapping": mapping("PLAT-SEAT"),
    } | overrides


def one_time_line(**overrides: Any) -> dict[str, Any]:
    return {
        "line_no": 2,
        "product_code": "ONB-STD",
        "kind": "one_time",
        "quantity": "1",
        "amount": usd("15000.00"),
        **WHOLE_YEAR,
        "delivered_on": date(2027, 2, 15),
        "mapping": mapping("ONB-STD"),
    } | overrides


def usage_line(**overrides: Any) -> dict[str, Any]:
    return {
        "line_no": 3,
        "product_code": "API-OVG",
        "kind": "usage",
        "quantity": "1",
        **WHOLE_YEAR,
        "usage": {"unit": "api_call", "included_per_month": "1000000", "unit_price_over_included": usd("0.002")},
        "mapping": mapping("API-OVG"),
    } | overrides


def contract(**overrides: Any) -> dict[str, Any]:
    return {
        "contract_id": "CTR-006NW0000000001",
        "opportunity_id": "006NW0000000001",
        "owner": "sam.seller",
        "closed_won_on": date(2026, 12, 15),
        "customer": customer(),
        "currency": "USD",
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "lines": [recurring_line(), one_time_line(), usage_line()],
        "mapping_version": RULES.version,
    } | overrides


def ramp(start: date, end: date, quantity: str, price: str = "90.00") -> dict[str, Any]:
    return {"start": start, "end": end, "quantity": quantity, "net_unit_price": usd(price)}


def rejection(model: type[BaseModel], data: dict[str, Any]) -> tuple[FieldProblem, ...]:
    """Validate `data` as `model`, expect a refusal, and return it as the problems the saga would report."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert caught.value.title == model.__name__  # the error names the model
    assert model.__name__ in str(caught.value)
    return problems_from_validation_error(model.__name__, caught.value)


def assert_rejected(model: type[BaseModel], data: dict[str, Any], field: str, *says: str) -> None:
    """`model` refuses `data` with a problem on `field` ("(record)" for a rule across fields) saying `says`."""
    problems = rejection(model, data)
    on_field = [p for p in problems if p.field == field]
    assert on_field, f"no problem on {field!r}: {[str(p) for p in problems]}"
    assert all(p.record == model.__name__ for p in problems)
    for fragment in says:
        assert any(fragment in p.message for p in on_field), f"{fragment!r} not in {[p.message for p in on_field]}"


def months_as_fraction(start: date, end: date) -> Fraction:
    return Fraction(service_months(start, end))


def close_to(value: Fraction, expected: Fraction) -> bool:
    # service_months divides in Decimal, so a third of a month is 0.333… to 28 digits, not exactly 1/3.
    return abs(value - expected) < Fraction(1, 10**20)


# -- quantities and prices ---------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [recurring_line, one_time_line, usage_line], ids=["recurring", "one_time", "usage"])
def test_a_line_quantity_cannot_be_negative(line: Any) -> None:
    assert_rejected(ContractLine, line(quantity="-1"), "quantity", "greater than or equal to 0")


def test_a_negative_quantity_inside_a_contract_names_the_line_and_field() -> None:
    data = contract(lines=[recurring_line(quantity="-5")])
    assert_rejected(Contract, data, "lines.0.quantity", "greater than or equal to 0")


def test_a_recurring_line_needs_a_quantity_above_zero() -> None:
    assert_rejected(ContractLine, recurring_line(quantity="0"), "(record)", "recurring line", "quantity above zero")


def test_a_recurring_line_needs_a_net_unit_price() -> None:
    assert_rejected(ContractLine, recurring_line(net_unit_price=None), "(record)", "recurring line", "net_unit_price")


def test_a_one_time_line_needs_an_amount() -> None:
    assert_rejected(ContractLine, one_time_line(amount=None), "(record)", "one-time line needs amount")


def test_a_one_time_line_amount_cannot_be_negative() -> None:
    assert_rejected(ContractLine, one_time_line(amount=usd("-0.01")), "(record)", "amount cannot be negative")


def test_a_one_time_line_of_zero_is_allowed() -> None:
    assert ContractLine.model_validate(one_time_line(amount=usd("0.00"))).amount == Money.zero("USD")


def test_a_usage_line_needs_usage_terms() -> None:
    assert_rejected(ContractLine, usage_line(usage=None), "(record)", "usage terms")


def test_a_discount_above_one_hundred_percent_is_refused() -> None:
    assert_rejected(ContractLine, recurring_line(discount_percent="100.01"), "discount_percent", "less than or equal")


# -- currencies --------------------------------------------------------------------------------------------


def test_money_refuses_an_unknown_currency() -> None:
    assert_rejected(Money, {"amount": "1.00", "currency": "XYZ"}, "currency", "unknown ISO 4217", "'XYZ'")


def test_customer_refuses_an_unknown_currency() -> None:
    assert_rejected(Customer, customer(currency="XYZ"), "currency", "'XYZ'", "ISO 4217")


def test_a_price_in_an_unknown_currency_names_the_price_field() -> None:
    assert_rejected(
        ContractLine, recurring_line(net_unit_price={"amount": "90", "currency": "XYZ"}), "net_unit_price.currency"
    )


def test_a_line_priced_in_euros_is_refused_in_a_dollar_contract() -> None:
    euro_line = recurring_line(list_unit_price=eur("100.00"), net_unit_price=eur("90.00"))
    assert ContractLine.model_validate(euro_line).currencies() == {"EUR"}  # fine on its own
    assert_rejected(Contract, contract(lines=[euro_line]), "(record)", "line 1", "EUR", "not USD")


def test_a_line_mixing_currencies_is_refused() -> None:
    mixed = recurring_line(list_unit_price=eur("100.00"), net_unit_price=usd("90.00"))
    assert_rejected(ContractLine, mixed, "(record)", "prices in different currencies: EUR, USD")


def test_a_ramp_phase_in_another_currency_makes_the_line_mixed() -> None:
    line = recurring_line(
        ramp_phases=[ramp(date(2027, 1, 1), date(2027, 12, 31), "100") | {"net_unit_price": eur("90")}]
    )
    assert_rejected(ContractLine, line, "(record)", "different currencies")


def test_a_usage_overage_price_in_another_currency_is_refused_in_the_contract() -> None:
    usage = usage_line(usage={"unit": "api_call", "included_per_month": "0", "unit_price_over_included": eur("0.002")})
    assert_rejected(Contract, contract(lines=[usage]), "(record)", "line 3", "EUR")


def test_customer_currency_must_be_the_contract_currency() -> None:
    data = contract(customer=customer(currency="EUR", legal_entity="DE01"))
    assert_rejected(Contract, data, "(record)", "customer currency EUR differs from USD")


# -- customer master data ----------------------------------------------------------------------------------


def test_customer_needs_a_billing_contact() -> None:
    data = customer()
    del data["billing_contact"]
    assert_rejected(Customer, data, "billing_contact", "Field required")


@pytest.mark.parametrize("email", ["ap.northwind.example", "ap@northwind", "ap @northwind.example", ""])
def test_customer_billing_contact_needs_a_valid_email(email: str) -> None:
    data = customer(billing_contact={"name": "Dana Reyes", "email": email})
    assert_rejected(Customer, data, "billing_contact.email", "is not an email address")


@pytest.mark.parametrize("country", ["USA", "U1", "", "1"])
def test_customer_country_must_be_an_iso_alpha2_code(country: str) -> None:
    assert_rejected(Customer, customer(country=country), "country", "ISO 3166-1 alpha-2")


def test_tax_id_country_must_be_an_iso_alpha2_code() -> None:
    data = customer(tax_ids=[{"country": "United States", "value": "US-84-1234567"}])
    assert_rejected(Customer, data, "tax_ids.0.country", "ISO 3166-1 alpha-2")


def test_customer_codes_are_normalised_to_upper_case() -> None:
    normalised = Customer.model_validate(customer(country=" us ", currency="usd"))
    assert (normalised.country, normalised.currency) == ("US", "USD")


@pytest.mark.parametrize("days", [-1, 366])
def test_customer_payment_terms_are_between_zero_and_a_year(days: int) -> None:
    assert_rejected(Customer, customer(payment_terms_days=days), "payment_terms_days")


# -- dates ---------------------------------------------------------------------------------------------------


def test_service_end_cannot_be_before_service_start() -> None:
    line = recurring_line(service_start=date(2027, 12, 31), service_end=date(2027, 1, 1))
    assert_rejected(ContractLine, line, "(record)", "service_end 2027-01-01 is before service_start 2027-12-31")


def test_term_end_cannot_be_before_term_start() -> None:
    data = contract(term_start=date(2027, 12, 31), term_end=date(2027, 1, 1))
    assert_rejected(Contract, data, "(record)", "term_end 2027-01-01 is before term_start 2027-12-31")


def test_a_line_service_period_must_lie_within_the_contract_term() -> None:
    late = recurring_line(service_end=date(2028, 1, 31))
    assert_rejected(Contract, contract(lines=[late]), "(record)", "line 1", "outside the contract term")


def test_a_ramp_phase_cannot_end_before_it_starts() -> None:
    assert_rejected(RampPhase, ramp(date(2027, 6, 30), date(2027, 1, 1), "50"), "(record)", "ramp phase ends")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 12, 1), date(2027, 6, 30)),  # starts before the service period
        (date(2027, 7, 1), date(2028, 1, 31)),  # ends after it
    ],
)
def test_ramp_phases_must_lie_within_the_service_period(start: date, end: date) -> None:
    line = recurring_line(ramp_phases=[ramp(start, end, "50")])
    assert_rejected(ContractLine, line, "(record)", f"ramp phase {start}..{end} lies outside the service period")


@pytest.mark.parametrize(
    ("second_start", "what"),
    [(date(2027, 7, 2), "a gap of one day"), (date(2027, 6, 30), "an overlap of one day")],
)
def test_ramp_phases_must_be_contiguous(second_start: date, what: str) -> None:
    line = recurring_line(
        ramp_phases=[ramp(date(2027, 1, 1), date(2027, 6, 30), "50"), ramp(second_start, date(2027, 12, 31), "100")]
    )
    assert_rejected(ContractLine, line, "(record)", f"ramp phases must be contiguous: 2027-06-30 then {second_start}")


def test_a_ramp_phase_needs_a_quantity_above_zero() -> None:
    assert_rejected(RampPhase, ramp(date(2027, 1, 1), date(2027, 6, 30), "0"), "quantity", "greater than 0")


# -- lines and mappings ----------------------------------------------------------------------------------


def test_line_numbers_cannot_repeat() -> None:
    data = contract(lines=[recurring_line(line_no=1), one_time_line(line_no=1)])
    assert_rejected(Contract, data, "(record)", "line numbers repeat")


def test_a_contract_needs_at_least_one_line() -> None:
    assert_rejected(Contract, contract(lines=[]), "lines", "at least 1 item")


def test_a_line_mapping_must_be_for_the_line_product_code() -> None:
    line = recurring_line(mapping=mapping("PREM-MOD"))
    assert_rejected(ContractLine, line, "(record)", "mapping is for PREM-MOD")


def test_a_line_mapping_must_be_for_the_line_kind() -> None:
    one_time_seat = mapping("PLAT-SEAT").model_copy(update={"kind": LineKind.ONE_TIME})
    assert_rejected(
        ContractLine, recurring_line(mapping=one_time_seat), "(record)", "mapping is for PLAT-SEAT (one_time)"
    )


def test_unknown_fields_are_refused() -> None:
    assert_rejected(Contract, contract(signed_by="Dana"), "signed_by", "Extra inputs are not permitted")


# -- immutability and serialisation ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_contract() -> Contract:
    return build_contract(reference_deal(), RULES)


def test_contracts_are_frozen(reference_contract: Contract) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        reference_contract.currency = "EUR"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        reference_contract.lines[0].quantity = Decimal(1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        reference_contract.customer.payment_terms_days = 90  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        reference_contract.lines[0].mapping.revenue_account = "9999"  # type: ignore[misc]
    assert isinstance(reference_contract.lines, tuple)  # no appending lines either


@pytest.mark.parametrize("model", [Contract, Customer, MappingRules, SagaPolicy, ClosedWonState])
def test_canonical_models_export_a_json_schema(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert schema["title"] == model.__name__
    assert set(schema["required"]) <= set(schema["properties"])
    assert json.loads(json.dumps(schema)) == schema


def test_contract_json_schema_advertises_amounts_as_strings_not_floats() -> None:
    money = Contract.model_json_schema()["$defs"]["Money"]
    assert {"type": "number"} not in money["properties"]["amount"].get("anyOf", [])
    assert "currency" in money["required"]


def test_contract_round_trips_through_json_unchanged(reference_contract: Contract) -> None:
    text = reference_contract.model_dump_json()
    again = Contract.model_validate_json(text)
    assert again == reference_contract
    assert again.model_dump_json() == text
    assert again.total_contract_value == reference_contract.total_contract_value


def test_a_ramped_contract_round_trips_through_json_unchanged() -> None:
    ramped = Contract.model_validate(
        contract(
            lines=[
                recurring_line(
                    ramp_phases=[
                        ramp(date(2027, 1, 1), date(2027, 6, 30), "50"),
                        ramp(date(2027, 7, 1), date(2027, 12, 31), "100"),
                    ]
                )
            ]
        )
    )
    assert Contract.model_validate_json(ramped.model_dump_json()) == ramped


# -- service months ----------------------------------------------------------------------------------------


def test_a_calendar_year_is_exactly_twelve_months() -> None:
    assert service_months(date(2027, 1, 1), date(2027, 12, 31)) == Decimal(12)


def test_a_year_from_mid_month_is_exactly_twelve_months() -> None:
    assert service_months(date(2027, 1, 15), date(2028, 1, 14)) == Decimal(12)


def test_a_partial_month_is_a_fraction_of_the_month_it_falls_in() -> None:
    # 15 July .. 14 December is five months; 15..31 December is 17 of December's 31 days.
    assert close_to(months_as_fraction(date(2027, 7, 15), date(2027, 12, 31)), 5 + Fraction(17, 31))


@pytest.mark.parametrize(
    ("day", "days_in_month"),
    # A month is anchored on the start day: 31 March's month runs to 30 April (30 days), so that a remainder is
    # always less than one month and a longer period is never worth fewer months.
    [(date(2027, 2, 10), 28), (date(2028, 2, 10), 29), (date(2027, 3, 31), 30)],
)
def test_a_single_day_is_one_day_of_its_month(day: date, days_in_month: int) -> None:
    assert close_to(months_as_fraction(day, day), Fraction(1, days_in_month))


def test_the_last_year_of_the_calendar_is_twelve_months() -> None:
    # A service period in year 9999 must not need year 10000 to be measured.
    assert service_months(date(9999, 1, 1), date(9999, 12, 31)) == Decimal(12)


def test_a_shorter_period_from_a_month_end_is_not_worth_more_months() -> None:
    # 31 January .. 30 March is exactly two months; one day less cannot be more than two.
    two_months = service_months(date(2027, 1, 31), date(2027, 3, 30))
    assert two_months == Decimal(2)
    assert service_months(date(2027, 1, 31), date(2027, 3, 29)) < two_months


@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), months=st.integers(1, 48))
def test_from_day_one_to_twenty_eight_n_calendar_months_are_exactly_n(start: date, months: int) -> None:
    start = start.replace(day=min(start.day, 28))
    month_index = start.month - 1 + months
    same_day_later = start.replace(year=start.year + month_index // 12, month=month_index % 12 + 1)
    assert service_months(start, same_day_later - timedelta(days=1)) == Decimal(months)


@st.composite
def late_in_the_month(draw: st.DrawFn) -> date:
    """The 28th to 31st (clamped to the month's length): where month arithmetic goes wrong."""
    year, month = draw(st.integers(2000, 2100)), draw(st.integers(1, 12))
    return date(year, month, min(draw(st.integers(28, 31)), calendar.monthrange(year, month)[1]))


@given(start=st.one_of(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), late_in_the_month()))
@example(start=date(2027, 1, 31))
def test_one_more_day_of_service_never_means_fewer_months(start: date) -> None:
    ends = [start + timedelta(days=n) for n in range(120)]
    months = [service_months(start, end) for end in ends]
    for end, shorter, longer in zip(ends, months, months[1:], strict=False):
        assert shorter <= longer, f"{start}..{end} is {shorter} months, one day more is {longer}"


# -- contract value and discount -----------------------------------------------------------------------


def test_reference_deal_total_contract_value_is_exactly_123000_usd(reference_contract: Contract) -> None:
    # 100 seats x 90.00 x 12 months + 15000.00 onboarding; usage is variable and commits nothing.
    assert reference_contract.total_contract_value == Money.of("123000.00", "USD")
    assert str(reference_contract.total_contract_value) == "123000.00 USD"
    seats, onboarding, usage = reference_contract.lines
    assert seats.committed_value("USD") == Money.of("108000", "USD")
    assert onboarding.committed_value("USD") == Money.of("15000.00", "USD")
    assert usage.committed_value("USD") == Money.zero("USD")


def test_a_ramped_line_is_worth_the_sum_of_its_phases() -> None:
    # 50 seats Jan-Jun at 90.00, then 100 seats Jul-Dec at 85.00: 50*90*6 + 100*85*6 = 27000 + 51000.
    ramped = Contract.model_validate(
        contract(
            lines=[
                recurring_line(
                    ramp_phases=[
                        ramp(date(2027, 1, 1), date(2027, 6, 30), "50", "90.00"),
                        ramp(date(2027, 7, 1), date(2027, 12, 31), "100", "85.00"),
                    ]
                )
            ]
        )
    )
    assert ramped.lines[0].committed_value("USD") == Money.of("78000", "USD")
    assert ramped.total_contract_value == Money.of("78000.00", "USD")


def test_total_contract_value_is_rounded_to_the_minor_unit() -> None:
    # 1 seat at 10.00 for 15..31 July (17/31 of a month) is 5.4838… USD; the total rounds half-up to cents.
    line = recurring_line(quantity="1", net_unit_price=usd("10.00"), service_start=date(2027, 7, 15))
    line["service_end"] = date(2027, 7, 31)
    value = Contract.model_validate(contract(lines=[line])).total_contract_value
    assert value == Money.of("5.48", "USD")
    assert value.is_rounded


@pytest.mark.parametrize(
    ("list_price", "net_price", "expected"),
    [
        ("100.00", "90.00", "10.00"),
        ("100.00", "100.00", "0.00"),
        ("120.00", "100.00", "16.67"),  # to two decimals
        ("90.00", "0.00", "100.00"),
        ("80.00", "100.00", "-25.00"),  # a price above list is a negative discount
        ("0", "50.00", "0"),  # nothing to discount from
    ],
)
def test_discount_percent_off_the_list_price(list_price: str, net_price: str, expected: str) -> None:
    assert discount_percent(Decimal(list_price), Decimal(net_price)) == Decimal(expected)


def test_largest_discount_of_the_reference_deal_is_ten_percent(reference_contract: Contract) -> None:
    assert reference_contract.largest_discount_percent == Decimal(10)
