"""The mapping rules and saga policy files finance edits, and the approval rules the policy drives."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.memory.reference_deals import non_standard_deal, reference_deal
from canonical.contract import Contract
from canonical.contract_mapping import build_contract
from canonical.crm_deal import CrmDeal
from canonical.currencies import is_known_currency
from canonical.mapping_rules import MappingRules, parse_mapping_rules
from canonical.money import Money
from canonical.problems import InvalidRecordError
from canonical.product import LineKind, RevenueTreatment
from canonical.saga_policy import (
    ApprovalPolicy,
    SagaPolicy,
    SearchAttributeUpdates,
    approval_reasons,
    approver_refusal,
)
from workers.config_files import (
    PROJECT_CONFIG,
    ConfigFileError,
    load_mapping_rules,
    load_saga_policy,
    mapping_rules_path,
    saga_policy_path,
)

SHIPPED_RULES = PROJECT_CONFIG / "mapping-rules.toml"
SHIPPED_POLICY = PROJECT_CONFIG / "saga-policy.toml"
RULES = load_mapping_rules(SHIPPED_RULES)
POLICY = load_saga_policy(SHIPPED_POLICY)

A_PRODUCT = """
[[products]]
product_code = "PLAT-SEAT"
name = "Platform subscription (per seat)"
kind = "recurring"
billing_price_key = "plat_seat_monthly"
erp_item = "SUB-PLATFORM"
revenue_account = "4000"
deferred_revenue_account = "2400"
revenue_treatment = "ratable"
"""

MINIMAL_RULES = f"""
version = "test.1"
{A_PRODUCT}
[[legal_entities]]
code = "US01"
name = "q2c Demo Software Inc."
countries = ["US"]
currencies = ["USD"]
erp_subsidiary = "1"

[[tax]]
country = "US"
tax_code = "US-SAAS"

[[payment_terms]]
days = 30
erp_terms = "Net 30"
"""


def shipped_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def contract_for(deal: CrmDeal) -> Contract:
    return build_contract(deal, RULES)


def with_account(deal: CrmDeal, **changes: Any) -> CrmDeal:
    return deal.model_copy(update={"account": deal.account.model_copy(update=changes)})


def with_line(deal: CrmDeal, line_no: int, **changes: Any) -> CrmDeal:
    lines = tuple(line.model_copy(update=changes) if line.line_no == line_no else line for line in deal.lines)
    return deal.model_copy(update={"lines": lines})


def approval_policy(**changes: Any) -> ApprovalPolicy:
    """The shipped approval policy with `changes`, validated like a file would be."""
    return ApprovalPolicy.model_validate(POLICY.approval.model_dump() | changes)


def rules_of(reasons: tuple[Any, ...]) -> list[str]:
    return [reason.rule for reason in reasons]


# -- the shipped files ----------------------------------------------------------------------------------


def test_shipped_mapping_rules_load_and_are_versioned() -> None:
    assert isinstance(RULES, MappingRules)
    assert RULES.version == "2026.11.1"
    assert {p.product_code for p in RULES.products} == {"PLAT-SEAT", "PREM-MOD", "ONB-STD", "API-OVG"}
    assert {e.code for e in RULES.legal_entities} == {"US01", "UK01", "DE01"}
    assert RULES.terms_for(30) is not None and RULES.terms_for(30).erp_terms == "Net 30"  # type: ignore[union-attr]


def test_shipped_products_are_recognised_as_their_kind_requires() -> None:
    treatment = {
        LineKind.RECURRING: RevenueTreatment.RATABLE,
        LineKind.ONE_TIME: RevenueTreatment.POINT_IN_TIME,
        LineKind.USAGE: RevenueTreatment.USAGE,
    }
    for product in RULES.products:
        assert product.revenue_treatment is treatment[product.kind], product.product_code


def test_shipped_legal_entities_sell_in_iso_currencies_and_countries_with_tax_rules_are_served() -> None:
    for entity in RULES.legal_entities:
        assert all(is_known_currency(code) for code in entity.currencies), entity.code
        assert all(len(country) == 2 and country.isupper() for country in entity.countries), entity.code
    for tax in RULES.tax:
        assert any(tax.country in entity.countries for entity in RULES.legal_entities), tax.country


def test_shipped_saga_policy_loads_with_its_thresholds_and_timings() -> None:
    assert isinstance(POLICY, SagaPolicy)
    assert POLICY.version == "2026.11.2"
    assert POLICY.search_attribute_updates is SearchAttributeUpdates.STATUS_CHANGES
    approval = POLICY.approval
    assert approval.max_discount_percent == Decimal(15)
    assert approval.max_payment_terms_days == 45
    assert approval.threshold_for("USD") == Money.of("250000.00", "USD")
    assert approval.threshold_for("EUR") == Money.of("230000.00", "EUR")
    assert approval.threshold_for("GBP") == Money.of("200000.00", "GBP")
    assert (approval.escalate_after, approval.expire_after) == (timedelta(days=2), timedelta(days=5))
    assert POLICY.needs_attention_expire_after == timedelta(days=14)
    assert POLICY.retry_initial_interval == timedelta(seconds=1)
    assert POLICY.retry_maximum_interval == timedelta(minutes=1)
    assert POLICY.activity_timeout == timedelta(seconds=30)


def test_shipped_policy_has_a_threshold_for_every_currency_a_legal_entity_sells_in() -> None:
    sold_in = {currency for entity in RULES.legal_entities for currency in entity.currencies}
    assert all(POLICY.approval.threshold_for(currency) is not None for currency in sold_in)


def test_shipped_policy_names_at_least_one_approver() -> None:
    approval = POLICY.approval
    approvers = [user for user in approval.people if approver_refusal(user, "nobody", approval) is None]
    assert sorted(approvers) == ["carl.controller", "fiona.finance"]


def test_default_config_paths_are_the_shipped_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("Q2C_MAPPING_RULES", raising=False)
    monkeypatch.delenv("Q2C_SAGA_POLICY", raising=False)
    assert mapping_rules_path() == SHIPPED_RULES
    assert saga_policy_path() == SHIPPED_POLICY
    assert load_mapping_rules() == RULES
    assert load_saga_policy() == POLICY


def test_environment_variables_choose_other_config_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rules_file = write(tmp_path, "rules.toml", MINIMAL_RULES)
    policy_file = write(tmp_path, "policy.toml", shipped_text(SHIPPED_POLICY).replace('"2026.11.2"', '"test.7"'))
    monkeypatch.setenv("Q2C_MAPPING_RULES", str(rules_file))
    monkeypatch.setenv("Q2C_SAGA_POLICY", str(policy_file))
    assert load_mapping_rules().version == "test.1"
    assert load_saga_policy().version == "test.7"
    assert load_mapping_rules(SHIPPED_RULES) == RULES  # an explicit path wins over the environment


def test_shipped_rules_and_policy_round_trip_through_json() -> None:
    assert MappingRules.model_validate_json(RULES.model_dump_json()) == RULES
    assert SagaPolicy.model_validate_json(POLICY.model_dump_json()) == POLICY


# -- parse_mapping_rules -----------------------------------------------------------------------------------


def test_minimal_rules_parse() -> None:
    rules = parse_mapping_rules(MINIMAL_RULES, source="minimal.toml")
    assert rules.version == "test.1"
    assert rules.tax_rule("US") is not None and rules.tax_rule("US").tax_id_required  # type: ignore[union-attr]
    assert rules.tax_rule("DE") is None


def test_a_product_code_listed_twice_is_refused_naming_the_source_and_the_code() -> None:
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(MINIMAL_RULES + A_PRODUCT, source="finance/rules.toml")
    (problem,) = caught.value.problems
    assert problem.record == "finance/rules.toml"
    assert "products lists PLAT-SEAT more than once" in problem.message


@pytest.mark.parametrize(
    ("section", "duplicate", "says"),
    [
        (
            "legal_entities",
            'code = "US01"\nname = "Again"\ncountries = ["CA"]\ncurrencies = ["USD"]\nerp_subsidiary = "9"',
            "legal_entities lists US01",
        ),
        ("tax", 'country = "US"\ntax_code = "A"', "tax lists US"),
        ("payment_terms", 'days = 30\nerp_terms = "Thirty"', "payment_terms lists 30"),
    ],
)
def test_any_key_listed_twice_is_refused(section: str, duplicate: str, says: str) -> None:
    extra = f"\n[[{section}]]\n{duplicate}\n"
    with pytest.raises(InvalidRecordError, match=says):
        parse_mapping_rules(MINIMAL_RULES + extra, source="rules.toml")


def test_a_missing_product_field_is_refused_naming_the_source_and_the_field_path() -> None:
    text = shipped_text(SHIPPED_RULES).replace('erp_item = "USG-API"\n', "")
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(text, source="mapping-rules.toml")
    (problem,) = caught.value.problems
    assert (problem.record, problem.field) == ("mapping-rules.toml", "products.3.erp_item")
    assert problem.message == "Field required"
    assert "mapping-rules.toml, field products.3.erp_item: Field required" in str(caught.value)


def test_a_missing_version_is_refused() -> None:
    text = MINIMAL_RULES.replace('version = "test.1"\n', "")
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(text, source="rules.toml")
    assert [(p.record, p.field) for p in caught.value.problems] == [("rules.toml", "version")]


def test_an_unknown_line_kind_is_refused_naming_the_field() -> None:
    text = shipped_text(SHIPPED_RULES).replace('kind = "usage"', 'kind = "metered"')
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(text, source="rules.toml")
    assert [p.field for p in caught.value.problems] == ["products.3.kind"]


def test_a_float_ssp_is_refused() -> None:
    text = shipped_text(SHIPPED_RULES).replace('amount = "1200.00"', "amount = 1200.50")
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(text, source="rules.toml")
    assert [p.field for p in caught.value.problems] == ["products.0.ssp.amount"]


def test_every_problem_in_a_rules_file_is_reported_at_once() -> None:
    text = shipped_text(SHIPPED_RULES).replace('erp_item = "USG-API"\n', "").replace("days = 45", "days = -45")
    with pytest.raises(InvalidRecordError) as caught:
        parse_mapping_rules(text, source="rules.toml")
    assert {p.field for p in caught.value.problems} == {"products.3.erp_item", "payment_terms.2.days"}


def test_rules_that_are_not_toml_are_refused_naming_the_source_and_position() -> None:
    with pytest.raises(ValueError, match=r"^rules\.toml is not valid TOML: .*line 1") as caught:
        parse_mapping_rules("version == 1", source="rules.toml")
    assert not isinstance(caught.value, InvalidRecordError)


def test_load_mapping_rules_names_the_file_and_field(tmp_path: Path) -> None:
    bad = write(tmp_path, "rules.toml", MINIMAL_RULES.replace('currencies = ["USD"]', "currencies = []"))
    with pytest.raises(ConfigFileError) as caught:
        load_mapping_rules(bad)
    assert str(bad) in str(caught.value)
    assert "legal_entities.0.currencies" in str(caught.value)


@pytest.mark.parametrize("loader", [load_mapping_rules, load_saga_policy])
def test_a_config_file_that_is_not_toml_names_the_file(tmp_path: Path, loader: Any) -> None:
    bad = write(tmp_path, "broken.toml", 'version = "1\n')
    with pytest.raises(ConfigFileError, match="is not valid TOML") as caught:
        loader(bad)
    assert str(bad) in str(caught.value)


@pytest.mark.parametrize("loader", [load_mapping_rules, load_saga_policy])
def test_a_missing_config_file_names_the_file(tmp_path: Path, loader: Any) -> None:
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigFileError, match="cannot read") as caught:
        loader(missing)
    assert str(missing) in str(caught.value)


# -- load_saga_policy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (('max_discount_percent = "15"', 'max_discount_percent = "150"'), "approval.max_discount_percent"),
        (("max_payment_terms_days = 45", 'max_payment_terms_days = "long"'), "approval.max_payment_terms_days"),
        (('version = "2026.11.2"\n', ""), "version"),
        (('activity_timeout = "PT30S"', 'activity_timeout = "soon"'), "activity_timeout"),
        (
            ('{ amount = "230000.00", currency = "EUR" }', '{ amount = "230000.00", currency = "XYZ" }'),
            "approval.max_total_contract_value.1.currency",
        ),
    ],
)
def test_a_bad_saga_policy_file_names_the_file_and_the_field(tmp_path: Path, edit: tuple[str, str], field: str) -> None:
    old, new = edit
    text = shipped_text(SHIPPED_POLICY)
    assert old in text
    bad = write(tmp_path, "saga-policy.toml", text.replace(old, new, 1))
    with pytest.raises(ConfigFileError) as caught:
        load_saga_policy(bad)
    assert f"{bad}, field {field}:" in str(caught.value)


def test_a_policy_that_expires_approvals_before_escalating_them_is_refused_from_its_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "saga-policy.toml", shipped_text(SHIPPED_POLICY).replace('"P5D"', '"P1D"'))
    with pytest.raises(ConfigFileError) as caught:
        load_saga_policy(bad)
    assert f"{bad}, field approval: expire_after must be longer than escalate_after" in str(caught.value)


@pytest.mark.parametrize(
    ("escalate", "expire"),
    [(timedelta(days=2), timedelta(days=2)), (timedelta(days=3), timedelta(days=1))],
    ids=["equal", "shorter"],
)
def test_approval_must_expire_after_it_escalates(escalate: timedelta, expire: timedelta) -> None:
    with pytest.raises(ValidationError, match="expire_after must be longer than escalate_after") as caught:
        approval_policy(escalate_after=escalate, expire_after=expire)
    assert caught.value.title == "ApprovalPolicy"


def test_an_approval_policy_needs_at_least_one_contract_value_threshold() -> None:
    with pytest.raises(ValidationError) as caught:
        approval_policy(max_total_contract_value=())
    assert caught.value.errors()[0]["loc"] == ("max_total_contract_value",)


# -- approval_reasons ------------------------------------------------------------------------------------


def test_the_reference_deal_needs_no_approval() -> None:
    assert approval_reasons(contract_for(reference_deal()), POLICY.approval) == ()


def test_a_discount_above_policy_needs_approval() -> None:
    # The Contoso demo deal: 30% off, and 60-day terms.
    reasons = approval_reasons(contract_for(non_standard_deal()), POLICY.approval)
    assert rules_of(reasons) == ["discount", "payment_terms"]
    assert reasons[0].message == "discount 30% exceeds 15%"
    assert reasons[1].message == "payment terms of 60 days exceed 45"


def test_a_discount_exactly_at_the_limit_needs_no_approval() -> None:
    deal = with_line(reference_deal(), 1, discount_percent=Decimal(15), net_unit_price=Decimal("85.00"))
    assert approval_reasons(contract_for(deal), POLICY.approval) == ()
    deal = with_line(reference_deal(), 1, discount_percent=Decimal("15.01"), net_unit_price=Decimal("84.99"))
    assert rules_of(approval_reasons(contract_for(deal), POLICY.approval)) == ["discount"]


def test_payment_terms_above_policy_need_approval() -> None:
    reasons = approval_reasons(contract_for(with_account(reference_deal(), payment_terms_days=60)), POLICY.approval)
    assert rules_of(reasons) == ["payment_terms"]
    at_limit = contract_for(with_account(reference_deal(), payment_terms_days=45))
    assert approval_reasons(at_limit, POLICY.approval) == ()


def test_a_total_contract_value_above_the_threshold_needs_approval() -> None:
    # 300 seats x 90.00 x 12 + 15000.00 = 339000.00 USD, above the 250000.00 USD threshold.
    big = contract_for(with_line(reference_deal(), 1, quantity=Decimal(300)))
    reasons = approval_reasons(big, POLICY.approval)
    assert rules_of(reasons) == ["total_contract_value"]
    assert reasons[0].message == "total contract value 339000.00 USD exceeds 250000.00 USD"


def test_a_total_contract_value_exactly_at_the_threshold_needs_no_approval() -> None:
    policy = approval_policy(max_total_contract_value=[{"amount": "123000.00", "currency": "USD"}])
    assert approval_reasons(contract_for(reference_deal()), policy) == ()
    policy = approval_policy(max_total_contract_value=[{"amount": "122999.99", "currency": "USD"}])
    assert rules_of(approval_reasons(contract_for(reference_deal()), policy)) == ["total_contract_value"]


def test_a_currency_without_threshold_needs_approval() -> None:
    only_euros = approval_policy(max_total_contract_value=[{"amount": "230000.00", "currency": "EUR"}])
    reasons = approval_reasons(contract_for(reference_deal()), only_euros)
    assert rules_of(reasons) == ["total_contract_value"]
    assert reasons[0].message == "no contract value threshold is set for USD"


def test_every_reason_is_given_at_once() -> None:
    deal = with_account(non_standard_deal(), payment_terms_days=90)
    deal = with_line(deal, 1, quantity=Decimal(1000))  # 1000 x 70.00 x 12 = 840000.00 USD
    reasons = approval_reasons(contract_for(deal), POLICY.approval)
    assert rules_of(reasons) == ["discount", "payment_terms", "total_contract_value"]


# -- approver_refusal ---------------------------------------------------------------------------------------


def test_a_deal_owner_may_not_approve_their_own_deal_even_with_the_finance_role() -> None:
    policy = approval_policy(people={"sam.seller": ["sales", "finance"], "fiona.finance": ["finance"]})
    assert approver_refusal("sam.seller", "sam.seller", policy) == "sam.seller owns this deal and may not approve it"


def test_a_user_without_the_finance_role_may_not_approve() -> None:
    refusal = approver_refusal("olga.ops", "sam.seller", POLICY.approval)
    assert refusal == "olga.ops does not have the finance role"


def test_an_unknown_user_may_not_approve() -> None:
    assert approver_refusal("mallory", "sam.seller", POLICY.approval) == "mallory does not have the finance role"


@pytest.mark.parametrize("approver", ["fiona.finance", "carl.controller"])
def test_a_finance_user_may_approve_someone_elses_deal(approver: str) -> None:
    assert approver_refusal(approver, "sam.seller", POLICY.approval) is None


def test_the_approver_role_is_the_policy_s_to_choose() -> None:
    controllers = approval_policy(approver_role="controllership")
    assert approver_refusal("carl.controller", "sam.seller", controllers) is None
    assert approver_refusal("fiona.finance", "sam.seller", controllers) == (
        "fiona.finance does not have the controllership role"
    )
