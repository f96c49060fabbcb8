"""build_amendment: a CRM amendment becomes a canonical Amendment of the contract's current version, or every
problem with it is reported at once, naming the record and field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.memory.reference_deals import reference_amendment
from canonical.amendment import (
    Amendment,
    AmendmentChange,
    CancellationTiming,
    ChangeKind,
    CreditBehavior,
    ModificationFacts,
    amend_contract,
)
from canonical.amendment_mapping import build_amendment
from canonical.contract import Contract
from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.money import Money
from canonical.problems import ExceptionCategory, FieldProblem, InvalidRecordError
from tests.revenue.reference import amendment_lines, reference_contract, rules

OPPORTUNITY = "Opportunity 006NW0000000002"
SEATS = f"OpportunityLineItem 1 (PLAT-SEAT) of {OPPORTUNITY}"
PREMIUM = f"OpportunityLineItem 2 (PREM-MOD) of {OPPORTUNITY}"
REFERENCE = ExceptionCategory.MISSING_AMENDMENT_REFERENCE
INVALID = ExceptionCategory.INVALID_DATA


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def with_change(record: CrmAmendment, change_no: int, **changes: Any) -> CrmAmendment:
    updated = tuple(c.model_copy(update=changes) if c.change_no == change_no else c for c in record.changes)
    return record.model_copy(update={"changes": updated})


def only_change(**fields: Any) -> CrmAmendment:
    """The reference amendment with one change instead of its two."""
    return reference_amendment().model_copy(update={"changes": (CrmAmendmentChangeRecord(change_no=1, **fields),)})


def problems_of(record: CrmAmendment, contract: Contract | None = None) -> tuple[FieldProblem, ...]:
    with pytest.raises(InvalidRecordError) as caught:
        build_amendment(record, contract or reference_contract(), rules())
    return caught.value.problems


def the_problem(record: CrmAmendment, contract: Contract | None = None) -> FieldProblem:
    problems = problems_of(record, contract)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def named(problem: FieldProblem) -> tuple[str, str, ExceptionCategory]:
    return problem.record, problem.field, problem.category


# -- the reference amendment ------------------------------------------------------------------------------------


def test_the_reference_amendment_maps_to_the_scenarios_changes() -> None:
    premium = rules().product("PREM-MOD")

    amendment = build_amendment(reference_amendment(), reference_contract(), rules())

    assert amendment == Amendment(
        amendment_id="006NW0000000002",
        contract_id="CTR-006NW0000000001",
        references_version=1,
        effective=datetime(2027, 7, 15, tzinfo=UTC),
        changes=(
            AmendmentChange(kind=ChangeKind.QUANTITY, line_no=1, product_code="PLAT-SEAT", quantity=Decimal(150)),
            AmendmentChange(
                kind=ChangeKind.ADD_PRODUCT,
                product_code="PREM-MOD",
                quantity=Decimal(1),
                net_unit_price=usd("2000.00"),
                mapping=premium,
            ),
        ),
        facts=ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True),
        credit_behavior=CreditBehavior.CREDIT_NOTE,
        owner="sam.seller",
    )


def test_applied_to_the_reference_contract_it_adds_lines_4_and_5_from_15_july() -> None:
    contract = reference_contract()

    amended = amend_contract(contract, build_amendment(reference_amendment(), contract, rules()))

    assert amended.version == 2
    assert amended.lines[:3] == contract.lines  # what was sold stays as it was
    seats, premium = amended.lines[3:]
    expected_seats, expected_premium = amendment_lines()
    assert (seats.line_no, seats.product_code, seats.quantity) == (4, "PLAT-SEAT", Decimal(50))
    assert (premium.line_no, premium.product_code, premium.quantity) == (5, "PREM-MOD", Decimal(1))
    for line, expected in ((seats, expected_seats), (premium, expected_premium)):
        assert (line.service_start, line.service_end) == (date(2027, 7, 15), date(2027, 12, 31))
        assert line.net_unit_price == expected.net_unit_price
        assert line.mapping == expected.mapping
    assert seats.net_unit_price == usd("90.00") and premium.net_unit_price == usd("2000.00")


def test_the_prices_take_the_contracts_currency() -> None:
    contract = reference_contract()
    jpy_customer = contract.customer.model_copy(update={"currency": "JPY"})
    lines = tuple(
        line.model_copy(update={"net_unit_price": None, "list_unit_price": None, "amount": Money.of(1, "JPY")})
        for line in contract.lines
        if line.product_code == "ONB-STD"
    )
    in_yen = contract.model_copy(update={"currency": "JPY", "customer": jpy_customer, "lines": lines})
    record = reference_amendment().model_copy(update={"currency": None, "changes": reference_amendment().changes[1:]})

    amendment = build_amendment(record, Contract.model_validate(in_yen.model_dump()), rules())

    assert amendment.changes[0].net_unit_price == Money.of("2000.00", "JPY")


# -- each category, named precisely ------------------------------------------------------------------------------


def test_an_amendment_made_against_an_older_version_is_stale() -> None:
    version_2 = amend_contract(
        reference_contract(), build_amendment(reference_amendment(), reference_contract(), rules())
    )

    problem = the_problem(reference_amendment(), version_2)

    assert named(problem) == (OPPORTUNITY, "contract_version", REFERENCE)
    assert "made against version 1" in problem.message and "at version 2" in problem.message


def test_an_amendment_naming_no_contract_or_another_contract_has_no_reference() -> None:
    missing = the_problem(reference_amendment().model_copy(update={"contract_id": None}))
    other = the_problem(reference_amendment().model_copy(update={"contract_id": "CTR-006NW0000000003"}))
    no_version = the_problem(reference_amendment().model_copy(update={"contract_version": None}))

    # One problem each: the change lines' contract line numbers are not judged against a contract not named.
    assert named(missing) == (OPPORTUNITY, "contract_id", REFERENCE) and "missing" in missing.message
    assert named(other) == (OPPORTUNITY, "contract_id", REFERENCE)
    assert "CTR-006NW0000000003" in other.message
    assert named(no_version) == (OPPORTUNITY, "contract_version", REFERENCE)


@pytest.mark.parametrize(
    "effective", [datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)], ids=str
)
def test_an_effective_moment_outside_the_term_cannot_be_placed(effective: datetime) -> None:
    problem = the_problem(reference_amendment().model_copy(update={"effective": effective}))

    assert named(problem) == (OPPORTUNITY, "effective", REFERENCE)
    assert "outside the term" in problem.message and "2027-01-01..2027-12-31" in problem.message


def test_the_effective_moment_is_placed_in_utc() -> None:
    # 01:00 in Berlin on 1 January 2027 is still 2026 in UTC: outside the term.
    berlin = timezone(timedelta(hours=1))
    early = reference_amendment().model_copy(update={"effective": datetime(2027, 1, 1, 0, 30, tzinfo=berlin)})
    late = reference_amendment().model_copy(update={"effective": datetime(2027, 7, 15, 2, 0, tzinfo=berlin)})

    assert named(the_problem(early)) == (OPPORTUNITY, "effective", REFERENCE)
    assert build_amendment(late, reference_contract(), rules()).effective == datetime(2027, 7, 15, 1, tzinfo=UTC)


def test_an_added_product_without_mapping_rules_is_mapping_missing() -> None:
    problem = the_problem(with_change(reference_amendment(), 2, product_code="GOLD-MOD"))

    assert named(problem) == (
        f"OpportunityLineItem 2 (GOLD-MOD) of {OPPORTUNITY}",
        "product_code",
        ExceptionCategory.MAPPING_MISSING,
    )
    assert "'GOLD-MOD' has no mapping in rules version" in problem.message


def test_an_added_product_without_a_quantity_is_invalid_data() -> None:
    problem = the_problem(with_change(reference_amendment(), 2, quantity=None))

    assert named(problem) == (PREMIUM, "quantity", INVALID)
    assert problem.message.startswith("missing")


def test_every_problem_is_reported_at_once() -> None:
    record = reference_amendment().model_copy(
        update={"contract_version": 3, "effective": datetime(2028, 3, 1, tzinfo=UTC), "owner": None}
    )
    record = with_change(record, 1, quantity=None)
    record = with_change(record, 2, product_code="GOLD-MOD", net_unit_price=None)

    problems = {named(p) for p in problems_of(record)}

    gold = f"OpportunityLineItem 2 (GOLD-MOD) of {OPPORTUNITY}"
    assert problems == {
        (OPPORTUNITY, "contract_version", REFERENCE),
        (OPPORTUNITY, "effective", REFERENCE),
        (OPPORTUNITY, "owner", INVALID),
        (SEATS, "quantity", INVALID),
        (gold, "product_code", ExceptionCategory.MAPPING_MISSING),
        (gold, "net_unit_price", INVALID),
    }


# -- the contract lines a change names ---------------------------------------------------------------------------


def test_a_change_to_a_line_the_contract_does_not_have_is_a_missing_reference() -> None:
    problem = the_problem(with_change(reference_amendment(), 1, line_no=9, product_code=None))

    assert named(problem) == (f"OpportunityLineItem 1 (no product) of {OPPORTUNITY}", "line_no", REFERENCE)
    assert problem.message == "CTR-006NW0000000001 version 1 has no line 9"


def test_a_change_naming_another_product_than_its_line_is_a_missing_reference() -> None:
    problem = the_problem(with_change(reference_amendment(), 1, product_code="PREM-MOD"))

    assert named(problem) == (f"OpportunityLineItem 1 (PREM-MOD) of {OPPORTUNITY}", "product_code", REFERENCE)
    assert "contract line 1 is PLAT-SEAT" in problem.message


def test_a_line_that_ended_before_the_effective_date_cannot_change() -> None:
    contract = reference_contract()
    ended = contract.model_copy(
        update={"lines": (contract.lines[0].model_copy(update={"service_end": date(2027, 6, 30)}), *contract.lines[1:])}
    )

    problem = the_problem(reference_amendment(), ended)

    assert named(problem) == (SEATS, "line_no", REFERENCE) and "ended on 2027-06-30" in problem.message


def test_a_change_line_without_a_contract_line_is_a_missing_reference() -> None:
    problem = the_problem(with_change(reference_amendment(), 1, line_no=None))

    assert named(problem) == (SEATS, "line_no", REFERENCE)


def test_only_recurring_lines_change_quantity_or_price() -> None:
    problem = the_problem(only_change(change="quantity", line_no=2, quantity=Decimal(2)))

    assert named(problem) == (f"OpportunityLineItem 1 (no product) of {OPPORTUNITY}", "change", INVALID)
    assert "line 2 is one_time" in problem.message


def test_a_quantity_change_keeps_the_lines_price() -> None:
    problem = the_problem(with_change(reference_amendment(), 1, net_unit_price=Decimal("85.00")))

    assert named(problem) == (SEATS, "net_unit_price", INVALID) and "90.00 USD" in problem.message


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal(-5), Decimal(100)])
def test_a_quantity_change_needs_a_new_quantity_above_zero(quantity: Decimal) -> None:
    assert named(the_problem(with_change(reference_amendment(), 1, quantity=quantity))) == (SEATS, "quantity", INVALID)


def test_one_amendment_changes_a_line_once() -> None:
    record = reference_amendment().model_copy(
        update={
            "changes": (
                CrmAmendmentChangeRecord(change_no=1, change="quantity", line_no=1, quantity=Decimal(120)),
                CrmAmendmentChangeRecord(change_no=2, change="price", line_no=1, net_unit_price=Decimal(80)),
            )
        }
    )

    problem = the_problem(record)

    assert named(problem) == (f"OpportunityLineItem 2 (no product) of {OPPORTUNITY}", "line_no", INVALID)


# -- the other kinds of change -----------------------------------------------------------------------------------


def test_a_price_change_a_removal_and_a_term_extension_map_and_apply() -> None:
    record = reference_amendment().model_copy(
        update={
            "changes": (
                CrmAmendmentChangeRecord(change_no=1, change="price", line_no=1, net_unit_price=Decimal("80.00")),
                CrmAmendmentChangeRecord(change_no=2, change="remove_product", line_no=3, product_code="API-OVG"),
                CrmAmendmentChangeRecord(change_no=3, change="term_extension", term_end=date(2028, 6, 30)),
            ),
            "credit_behavior": "carry_forward",
        }
    )

    amendment = build_amendment(record, reference_contract(), rules())
    amended = amend_contract(reference_contract(), amendment)

    assert amendment.changes == (
        AmendmentChange(kind=ChangeKind.PRICE, line_no=1, product_code="PLAT-SEAT", net_unit_price=usd("80.00")),
        AmendmentChange(kind=ChangeKind.REMOVE_PRODUCT, line_no=3, product_code="API-OVG"),
        AmendmentChange(kind=ChangeKind.TERM_EXTENSION, term_end=date(2028, 6, 30)),
    )
    assert amendment.credit_behavior is CreditBehavior.CARRY_FORWARD
    assert amended.term_end == date(2028, 6, 30)
    repriced = next(line for line in amended.lines if line.line_no == 4)
    assert (repriced.product_code, repriced.net_unit_price, repriced.service_start) == (
        "PLAT-SEAT",
        usd("80.00"),
        date(2027, 7, 15),
    )


def test_a_cancellation_maps_and_must_be_the_only_change() -> None:
    cancellation = CrmAmendmentChangeRecord(change_no=1, change="cancellation", cancellation="period_end")
    alone = reference_amendment().model_copy(update={"changes": (cancellation,)})
    with_more = reference_amendment().model_copy(update={"changes": (cancellation, reference_amendment().changes[1])})

    amendment = build_amendment(alone, reference_contract(), rules())

    assert amendment.changes == (
        AmendmentChange(kind=ChangeKind.CANCELLATION, cancellation=CancellationTiming.PERIOD_END),
    )
    assert named(the_problem(with_more)) == (OPPORTUNITY, "changes", INVALID)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"change": "upgrade"}, "change"),
        ({"change": None}, "change"),
        ({"change": "cancellation", "cancellation": "tomorrow"}, "cancellation"),
        ({"change": "term_extension", "term_end": date(2027, 12, 31)}, "term_end"),
        ({"change": "term_extension"}, "term_end"),
        (
            {"change": "add_product", "product_code": "ONB-STD", "quantity": Decimal(1), "net_unit_price": Decimal(1)},
            "product_code",
        ),
        (
            {
                "change": "add_product",
                "product_code": "PREM-MOD",
                "quantity": Decimal(1),
                "net_unit_price": Decimal(-1),
            },
            "net_unit_price",
        ),
        ({"change": "price", "line_no": 1, "net_unit_price": Decimal("90.00")}, "net_unit_price"),
        ({"change": "price", "line_no": 1, "net_unit_price": Decimal(80), "quantity": Decimal(120)}, "quantity"),
        (
            {
                "change": "add_product",
                "product_code": "PREM-MOD",
                "quantity": Decimal(1),
                "net_unit_price": Decimal(1),
                "currency": "EUR",
            },
            "currency",
        ),
    ],
)
def test_a_bad_change_field_is_invalid_data(fields: dict[str, Any], field: str) -> None:
    problem = the_problem(only_change(**fields))

    assert problem.record.startswith("OpportunityLineItem 1 (")
    assert (problem.field, problem.category) == (field, INVALID)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opportunity_type": "New Business"}, "opportunity_type"),
        ({"stage": "Negotiation/Review"}, "stage"),
        ({"currency": "EUR"}, "currency"),
        ({"account_id": "001NW0000000002"}, "account_id"),
        ({"owner": ""}, "owner"),
        ({"credit_behavior": "refund"}, "credit_behavior"),
        ({"priced_at_ssp": None}, "priced_at_ssp"),
        ({"effective": None}, "effective"),
        ({"effective": datetime(2027, 7, 15)}, "effective"),  # no time zone
        ({"changes": ()}, "changes"),
    ],
)
def test_a_bad_opportunity_field_is_invalid_data(changes: dict[str, Any], field: str) -> None:
    problem = the_problem(reference_amendment().model_copy(update=changes))

    assert named(problem) == (OPPORTUNITY, field, INVALID)


def test_a_missing_type_and_credit_behaviour_are_taken_as_an_amendment_that_credits() -> None:
    record = reference_amendment().model_copy(update={"opportunity_type": None, "credit_behavior": None})

    assert build_amendment(record, reference_contract(), rules()).credit_behavior is CreditBehavior.CREDIT_NOTE


# -- never anything but an amendment that applies, or InvalidRecordError -----------------------------------------


def mostly(plausible: st.SearchStrategy[Any], anything: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine times in ten a plausible value, else anything: so that records pass as often as they fail."""
    return st.integers(0, 9).flatmap(lambda n: anything if n == 0 else plausible)


any_decimal = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    Decimal.scaleb, st.integers(-(10**6), 10**6).map(Decimal), st.integers(-40, 40)
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12), "far west")])
moments = st.none() | st.datetimes() | st.datetimes(timezones=zones)
in_the_year = st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2027, 12, 31, 12), timezones=zones)
plausible_changes = st.sampled_from(
    [
        *reference_amendment().changes,
        CrmAmendmentChangeRecord(change_no=3, change="price", line_no=1, net_unit_price=Decimal("80.00")),
        CrmAmendmentChangeRecord(change_no=4, change="remove_product", line_no=3),
        CrmAmendmentChangeRecord(change_no=5, change="quantity", line_no=1, quantity=Decimal(60)),
        CrmAmendmentChangeRecord(change_no=6, change="term_extension", term_end=date(2028, 6, 30)),
        CrmAmendmentChangeRecord(change_no=7, change="cancellation", cancellation="period_end"),
    ]
)


def varied(change: CrmAmendmentChangeRecord) -> st.SearchStrategy[CrmAmendmentChangeRecord]:
    return st.builds(
        CrmAmendmentChangeRecord,
        change_no=st.just(change.change_no),
        change=mostly(st.just(change.change), st.none() | st.sampled_from([*ChangeKind, "add"]) | st.text(max_size=3)),
        product_code=mostly(
            st.just(change.product_code), st.none() | st.sampled_from(["PLAT-SEAT", "PREM-MOD", "ONB-STD", "GOLD-MOD"])
        ),
        line_no=mostly(st.just(change.line_no), st.none() | st.integers(-1, 6)),
        quantity=mostly(st.just(change.quantity), st.none() | any_decimal),
        net_unit_price=mostly(st.just(change.net_unit_price), st.none() | any_decimal),
        currency=mostly(st.none(), st.sampled_from(["USD", "usd", "EUR", "XYZ", ""])),
        term_end=mostly(st.just(change.term_end), st.none() | st.dates()),
        cancellation=mostly(st.just(change.cancellation), st.none() | st.sampled_from([*CancellationTiming, "later"])),
    )


reference = reference_amendment()
amendment_records = st.builds(
    CrmAmendment,
    opportunity_id=st.just(reference.opportunity_id),
    opportunity_type=mostly(st.just(reference.opportunity_type), st.none() | st.just("New Business")),
    account_id=mostly(st.just(reference.account_id), st.none() | st.just("001NW0000000002")),
    owner=mostly(st.just(reference.owner), st.none() | st.just("")),
    stage=mostly(st.just(reference.stage), st.none() | st.just("Negotiation/Review")),
    currency=mostly(st.just(reference.currency), st.none() | st.just("EUR")),
    contract_id=mostly(st.just(reference.contract_id), st.none() | st.just("CTR-006NW0000000003")),
    contract_version=mostly(st.just(reference.contract_version), st.none() | st.integers(-1, 3)),
    effective=mostly(in_the_year, moments),
    credit_behavior=mostly(st.sampled_from([*CreditBehavior, None]), st.just("refund")),
    added_goods_distinct=mostly(st.booleans(), st.none()),
    priced_at_ssp=mostly(st.booleans(), st.none()),
    remaining_goods_distinct=mostly(st.booleans(), st.none()),
    changes=mostly(st.lists(plausible_changes.flatmap(varied), min_size=1, max_size=3), st.just([])).map(tuple),
)


@settings(max_examples=500, deadline=None)
@given(record=amendment_records, amended_once=st.booleans())
@example(  # an immediate cancellation on the first day of the term would leave zero-day lines behind
    record=reference_amendment().model_copy(
        update={
            "effective": datetime(2027, 1, 1, tzinfo=UTC),
            "changes": (CrmAmendmentChangeRecord(change_no=1, change="cancellation", cancellation="immediate"),),
        }
    ),
    amended_once=False,
)
@example(record=reference_amendment(), amended_once=False)
def test_any_record_gives_an_amendment_that_applies_or_problems(record: CrmAmendment, amended_once: bool) -> None:
    contract = reference_contract()
    if amended_once:
        contract = amend_contract(contract, build_amendment(reference_amendment(), contract, rules()))
    try:
        amendment = build_amendment(record, contract, rules())
    except InvalidRecordError as error:
        assert error.problems
        assert all(p.record.startswith(("Opportunity ", "OpportunityLineItem ")) for p in error.problems)
        assert all(p.field and p.message for p in error.problems)
        return
    assert (amendment.contract_id, amendment.references_version) == (contract.contract_id, contract.version)
    assert contract.term_start <= amendment.effective_on <= contract.term_end
    assert Amendment.model_validate_json(amendment.model_dump_json()) == amendment
    assert amend_contract(contract, amendment).version == contract.version + 1
