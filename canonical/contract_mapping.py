"""Turn a CRM deal into a canonical contract with the mapping rules, or say everything that is wrong with it.

Pure: the same deal and rules always give the same contract, so a saga can record the rules version and any
posting can be explained later. Problems are collected, not raised one at a time, so sales ops can fix a deal
in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from canonical.contract import Contract, ContractLine, discount_percent
from canonical.crm_deal import CrmAccountRecord, CrmDeal, CrmOpportunityRecord, CrmQuoteLineRecord
from canonical.customer import Customer
from canonical.mapping_rules import MappingRules
from canonical.problems import (
    ExceptionCategory,
    FieldProblem,
    InvalidRecordError,
    problems_from_validation_error,
)
from canonical.product import LineKind

CLOSED_WON = "Closed Won"
Model = TypeVar("Model", bound=BaseModel)


def contract_id_for(opportunity_id: str) -> str:
    return f"CTR-{opportunity_id}"


def build_contract(deal: CrmDeal, rules: MappingRules) -> Contract:
    """The canonical contract for a closed-won deal; raises InvalidRecordError listing every problem."""
    problems: list[FieldProblem] = []
    opportunity, account = deal.opportunity, deal.account
    problems += _opportunity_problems(opportunity, account)
    customer = _validated(
        account.label,
        problems,
        ExceptionCategory.MASTER_DATA_MISMATCH,
        Customer,
        lambda: _customer_fields(account, rules, problems),
    )
    currency = (opportunity.currency or account.currency or "").upper()
    lines = []
    for record in deal.lines:
        label = f"Quote line {record.line_no} ({record.product_code or 'no product'}) of {opportunity.label}"
        line = _validated(
            label,
            problems,
            ExceptionCategory.INVALID_DATA,
            ContractLine,
            partial(_line_fields, record, opportunity, currency, rules, problems, label),
        )
        if line is not None:
            lines.append(line)
    if not deal.lines:
        problems.append(FieldProblem(record=opportunity.label, field="lines", message="the deal has no quote lines"))
    if problems or customer is None:
        raise InvalidRecordError(tuple(problems))
    contract = _validated(
        opportunity.label,
        problems,
        ExceptionCategory.INVALID_DATA,
        Contract,
        lambda: {
            "contract_id": contract_id_for(opportunity.opportunity_id),
            "opportunity_id": opportunity.opportunity_id,
            "owner": opportunity.owner,
            "closed_won_on": opportunity.closed_won_on,
            "customer": customer,
            "currency": currency,
            "term_start": opportunity.contract_start,
            "term_end": opportunity.contract_end,
            "lines": tuple(lines),
            "mapping_version": rules.version,
        },
    )
    if contract is None:
        raise InvalidRecordError(tuple(problems))
    return contract


def _validated(
    record: str,
    problems: list[FieldProblem],
    category: ExceptionCategory,
    model: type[Model],
    fields: Callable[[], dict[str, Any] | None],
) -> Model | None:
    """Validate `model` from `fields()`, adding its problems under `record`'s name instead of raising."""
    data = fields()
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # A field already reported in business terms (e.g. "a tax ID is required") is not repeated in
        # pydantic's terms ("Input should be a valid string").
        reported = {(p.record, p.field) for p in problems}
        problems.extend(
            p
            for p in problems_from_validation_error(record, error, category)
            if (p.record, p.field.split(".")[0]) not in reported
        )
        return None


def _opportunity_problems(opportunity: CrmOpportunityRecord, account: CrmAccountRecord) -> list[FieldProblem]:
    problems = []
    label = opportunity.label
    if opportunity.stage != CLOSED_WON:
        problems.append(
            FieldProblem(record=label, field="stage", message=f"is {opportunity.stage!r}, not {CLOSED_WON!r}")
        )
    if opportunity.account_id != account.account_id:
        problems.append(
            FieldProblem(
                record=label,
                field="account_id",
                message=f"is {opportunity.account_id!r}, but the account read is {account.account_id!r}",
                category=ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        )
    if opportunity.currency and account.currency and opportunity.currency.upper() != account.currency.upper():
        problems.append(
            FieldProblem(
                record=label,
                field="currency",
                message=f"{opportunity.currency} differs from the account's {account.currency}",
                category=ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        )
    return problems


def _customer_fields(
    account: CrmAccountRecord, rules: MappingRules, problems: list[FieldProblem]
) -> dict[str, Any] | None:
    country = (account.billing_country or "").upper()
    currency = (account.currency or "").upper()
    entity = _legal_entity(account, country, currency, rules, problems)
    _check_tax(account, country, rules, problems)
    if account.payment_terms_days is not None and rules.terms_for(account.payment_terms_days) is None:
        problems.append(
            FieldProblem(
                record=account.label,
                field="payment_terms_days",
                message=f"no payment terms are mapped for {account.payment_terms_days} days",
                category=ExceptionCategory.MAPPING_MISSING,
            )
        )
    contact = None
    if account.billing_contact_name or account.billing_contact_email:
        contact = {"name": account.billing_contact_name or "", "email": account.billing_contact_email or ""}
    else:
        problems.append(
            FieldProblem(
                record=account.label,
                field="billing_contact",
                message="missing: the account has no billing contact to send invoices to",
                category=ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        )
    address = None
    if account.billing_street and account.billing_city:
        address = {
            "line1": account.billing_street,
            "city": account.billing_city,
            "postal_code": account.billing_postal_code or "",
            "country": country,
        }
    return {
        "crm_account_id": account.account_id,
        "name": account.name,
        "legal_entity": entity,
        "currency": currency,
        "country": country,
        "tax_ids": ({"country": country, "value": account.tax_id},) if account.tax_id else (),
        "billing_contact": contact,
        "payment_terms_days": account.payment_terms_days,
        "billing_address": address,
    }


def _legal_entity(
    account: CrmAccountRecord, country: str, currency: str, rules: MappingRules, problems: list[FieldProblem]
) -> str | None:
    if account.legal_entity:
        entity = rules.legal_entity(account.legal_entity)
        if entity is None:
            problems.append(
                FieldProblem(
                    record=account.label,
                    field="legal_entity",
                    message=f"{account.legal_entity!r} is not a legal entity in the mapping rules",
                    category=ExceptionCategory.MASTER_DATA_MISMATCH,
                )
            )
        elif not entity.sells_in(country, currency):
            problems.append(
                FieldProblem(
                    record=account.label,
                    field="legal_entity",
                    message=f"{entity.code} does not sell in {country or '?'} / {currency or '?'}",
                    category=ExceptionCategory.MASTER_DATA_MISMATCH,
                )
            )
        return account.legal_entity
    routed = rules.route_legal_entity(country, currency)
    if routed is None:
        problems.append(
            FieldProblem(
                record=account.label,
                field="legal_entity",
                message=f"no legal entity sells in {country or '?'} / {currency or '?'}",
                category=ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        )
        return None
    return routed.code


def _check_tax(account: CrmAccountRecord, country: str, rules: MappingRules, problems: list[FieldProblem]) -> None:
    if not country:
        return  # the missing country is reported by the Customer model
    rule = rules.tax_rule(country)
    if rule is None:
        problems.append(
            FieldProblem(
                record=account.label,
                field="billing_country",
                message=f"no tax code is mapped for {country}",
                category=ExceptionCategory.TAX_FAILURE,
            )
        )
    elif rule.tax_id_required and not account.tax_id:
        problems.append(
            FieldProblem(
                record=account.label,
                field="tax_id",
                message=f"a tax ID is required for customers in {country}",
                category=ExceptionCategory.TAX_FAILURE,
            )
        )


def _line_fields(
    record: CrmQuoteLineRecord,
    opportunity: CrmOpportunityRecord,
    contract_currency: str,
    rules: MappingRules,
    problems: list[FieldProblem],
    label: str,
) -> dict[str, Any] | None:
    mapping = rules.product(record.product_code or "")
    if mapping is None:
        problems.append(
            FieldProblem(
                record=label,
                field="product_code",
                message=f"{record.product_code!r} has no mapping in rules version {rules.version}",
                category=ExceptionCategory.MAPPING_MISSING,
            )
        )
        return None
    currency = (record.currency or contract_currency).upper()
    if record.currency and record.currency.upper() != contract_currency.upper():
        problems.append(
            FieldProblem(
                record=label,
                field="currency",
                message=f"{record.currency} differs from the deal's {contract_currency}",
            )
        )
        return None

    def money(amount: object) -> dict[str, Any] | None:
        return None if amount is None else {"amount": amount, "currency": currency}

    discount = record.discount_percent
    if (
        discount is None
        and record.list_unit_price is not None
        and record.net_unit_price is not None
        and record.list_unit_price > 0
    ):
        discount = discount_percent(record.list_unit_price, record.net_unit_price)
    usage = None
    if mapping.kind is LineKind.USAGE:
        usage = {
            "unit": record.usage_unit or "",
            "included_per_month": record.included_per_month if record.included_per_month is not None else 0,
            "unit_price_over_included": money(record.unit_price_over_included),
        }
    return {
        "line_no": record.line_no,
        "product_code": mapping.product_code,
        "kind": mapping.kind,
        "quantity": record.quantity
        if record.quantity is not None
        else (1 if mapping.kind is not LineKind.RECURRING else None),
        "list_unit_price": money(record.list_unit_price),
        "net_unit_price": money(record.net_unit_price),
        "discount_percent": discount if discount is not None else 0,
        "amount": money(record.amount),
        "billing_frequency": record.billing_frequency or "monthly",
        "service_start": record.service_start or opportunity.contract_start,
        "service_end": record.service_end or opportunity.contract_end,
        "ramp_phases": tuple(
            {
                "start": p.start,
                "end": p.end,
                "quantity": p.quantity,
                "net_unit_price": money(p.net_unit_price),
            }
            for p in record.ramp_phases
        ),
        "usage": usage,
        "delivered_on": record.delivered_on,
        "mapping": mapping,
    }
