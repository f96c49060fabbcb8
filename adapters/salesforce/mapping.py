"""Salesforce records ↔ q2c's canonical CRM records (deals and amendments), a saga's outcome → Opportunity fields,
and a settled payment → Account fields.

IDs are returned in their 15-character form, so an ID from an Outbound Message (18 characters) and one typed
by a person (15) name the same deal. Numbers arrive as Decimal (see the client); whole-number fields such as
payment terms and line numbers become ints when they are whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from adapters.salesforce import fields as f
from adapters.salesforce.account_payment import AccountPaymentUpdate
from adapters.salesforce.ids import id15
from canonical.amendment import CrmAmendmentOutcome
from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.crm_deal import CrmAccountRecord, CrmDeal, CrmOpportunityRecord, CrmQuoteLineRecord
from canonical.saga import SagaOutcome

logger = logging.getLogger(__name__)
Record = Mapping[str, Any]


def _whole(value: Any, name: str) -> int | None:
    if value is None:
        return None
    number = Decimal(value)
    if number != number.to_integral_value():
        logger.warning("Salesforce field %s holds %s, not a whole number: read as missing", name, value)
        return None
    return int(number)


def _related(record: Record | None, relationship: str) -> Record | None:
    related = None if record is None else record.get(relationship)
    return related if isinstance(related, Mapping) else None


def _optional_id(value: Any) -> str | None:
    return None if value is None else id15(str(value))


def account_record(opportunity: Record) -> CrmAccountRecord:
    account = _related(opportunity, f.ACCOUNT)
    contact = _related(account, f.BILLING_CONTACT)
    contact_name = None
    if contact is not None:
        contact_name = " ".join(p for p in (contact.get(f.CONTACT_FIRST_NAME), contact.get(f.CONTACT_LAST_NAME)) if p)
    if account is None:  # no account on the deal: the contract mapping reports the mismatch
        return CrmAccountRecord(account_id=_optional_id(opportunity.get(f.OPP_ACCOUNT_ID)) or "")
    return CrmAccountRecord(
        account_id=id15(str(account[f.ACCOUNT_ID])),
        name=account.get(f.ACCOUNT_NAME),
        billing_country=account.get(f.ACCOUNT_COUNTRY),
        currency=account.get(f.ACCOUNT_CURRENCY),
        legal_entity=account.get(f.ACCOUNT_LEGAL_ENTITY),
        tax_id=account.get(f.ACCOUNT_TAX_ID),
        billing_contact_name=contact_name or None,
        billing_contact_email=None if contact is None else contact.get(f.CONTACT_EMAIL),
        payment_terms_days=_whole(account.get(f.ACCOUNT_PAYMENT_TERMS), f.ACCOUNT_PAYMENT_TERMS),
        billing_street=account.get(f.ACCOUNT_STREET),
        billing_city=account.get(f.ACCOUNT_CITY),
        billing_postal_code=account.get(f.ACCOUNT_POSTAL_CODE),
    )


def opportunity_record(opportunity: Record) -> CrmOpportunityRecord:
    owner = _related(opportunity, f.OWNER)
    return CrmOpportunityRecord(
        opportunity_id=id15(str(opportunity[f.OPP_ID])),
        account_id=_optional_id(opportunity.get(f.OPP_ACCOUNT_ID)),
        name=opportunity.get(f.OPP_NAME),
        owner=None if owner is None else owner.get(f.OWNER_USERNAME),
        stage=opportunity.get(f.OPP_STAGE),
        closed_won_on=opportunity.get(f.OPP_CLOSE_DATE),
        contract_start=opportunity.get(f.OPP_CONTRACT_START),
        contract_end=opportunity.get(f.OPP_CONTRACT_END),
        currency=opportunity.get(f.OPP_CURRENCY),
    )


def line_record(position: int, line: Record) -> CrmQuoteLineRecord:
    product = _related(line, f.PRODUCT)
    return CrmQuoteLineRecord(
        line_no=_whole(line.get(f.LINE_NO), f.LINE_NO) or position,
        product_code=None if product is None else product.get(f.PRODUCT_CODE),
        quantity=line.get(f.LINE_QUANTITY),
        list_unit_price=line.get(f.LINE_LIST_PRICE),
        net_unit_price=line.get(f.LINE_UNIT_PRICE),
        discount_percent=line.get(f.LINE_DISCOUNT),
        amount=line.get(f.LINE_TOTAL_PRICE),
        billing_frequency=line.get(f.LINE_BILLING_FREQUENCY),
        service_start=line.get(f.LINE_SERVICE_START),
        service_end=line.get(f.LINE_SERVICE_END),
        usage_unit=line.get(f.LINE_USAGE_UNIT),
        included_per_month=line.get(f.LINE_INCLUDED_PER_MONTH),
        unit_price_over_included=line.get(f.LINE_OVERAGE_PRICE),
        delivered_on=line.get(f.LINE_DELIVERED_ON),
    )


def deal(opportunity: Record, lines: Sequence[Record]) -> CrmDeal:
    """The deal as q2c reads it. Ramp phases are not modelled in the org, so lines carry none."""
    return CrmDeal(
        opportunity=opportunity_record(opportunity),
        account=account_record(opportunity),
        lines=tuple(line_record(position, line) for position, line in enumerate(lines, start=1)),
    )


def change_record(position: int, line: Record) -> CrmAmendmentChangeRecord:
    product = _related(line, f.PRODUCT)
    return CrmAmendmentChangeRecord(
        change_no=_whole(line.get(f.LINE_NO), f.LINE_NO) or position,
        change=line.get(f.LINE_CHANGE),
        product_code=None if product is None else product.get(f.PRODUCT_CODE),
        line_no=_whole(line.get(f.LINE_CONTRACT_LINE), f.LINE_CONTRACT_LINE),
        quantity=line.get(f.LINE_QUANTITY),
        net_unit_price=line.get(f.LINE_UNIT_PRICE),
        term_end=line.get(f.LINE_TERM_END),
        cancellation=line.get(f.LINE_CANCELLATION),
    )


def amendment(opportunity: Record, lines: Sequence[Record]) -> CrmAmendment:
    """The amendment as q2c reads it: the opportunity's reference to the contract, its facts, one change a line."""
    owner = _related(opportunity, f.OWNER)
    return CrmAmendment(
        opportunity_id=id15(str(opportunity[f.OPP_ID])),
        opportunity_type=opportunity.get(f.OPP_TYPE),
        name=opportunity.get(f.OPP_NAME),
        account_id=_optional_id(opportunity.get(f.OPP_ACCOUNT_ID)),
        owner=None if owner is None else owner.get(f.OWNER_USERNAME),
        stage=opportunity.get(f.OPP_STAGE),
        currency=opportunity.get(f.OPP_CURRENCY),
        contract_id=opportunity.get(f.OPP_AMENDED_CONTRACT_ID),
        contract_version=_whole(opportunity.get(f.OPP_AMENDED_CONTRACT_VERSION), f.OPP_AMENDED_CONTRACT_VERSION),
        effective=opportunity.get(f.OPP_EFFECTIVE_AT),
        credit_behavior=opportunity.get(f.OPP_CREDIT_BEHAVIOR),
        added_goods_distinct=opportunity.get(f.OPP_ADDED_GOODS_DISTINCT),
        priced_at_ssp=opportunity.get(f.OPP_PRICED_AT_SSP),
        remaining_goods_distinct=opportunity.get(f.OPP_REMAINING_GOODS_DISTINCT),
        changes=tuple(change_record(position, line) for position, line in enumerate(lines, start=1)),
    )


def _message(text: str) -> str | None:
    """The message cut to Q2C_Message__c's 255 characters; None (clearing the field) when there is none."""
    if len(text) > f.Q2C_MESSAGE_LENGTH:
        text = text[: f.Q2C_MESSAGE_LENGTH - 1] + "…"
    return text or None


def outcome_fields(outcome: SagaOutcome) -> dict[str, str | None]:
    """The Opportunity's Q2C fields for `outcome`; a reference the saga no longer holds is cleared."""
    references = outcome.references
    return {
        f.Q2C_STATUS: outcome.status.value,
        f.Q2C_SAGA_ID: outcome.workflow_id,
        f.Q2C_CONTRACT_ID: outcome.contract_id,
        f.Q2C_ERP_CUSTOMER_ID: references.erp_customer_id,
        f.Q2C_BILLING_CUSTOMER_ID: references.billing_customer_id,
        f.Q2C_SUBSCRIPTION_ID: references.subscription_id,
        f.Q2C_REVENUE_CONTRACT_ID: references.revenue_contract_id,
        f.Q2C_MESSAGE: _message(outcome.message),
    }


def amendment_outcome_fields(outcome: CrmAmendmentOutcome) -> dict[str, str | int | Decimal | None]:
    """The amendment Opportunity's Q2C fields for `outcome`. Every field is written, so what the outcome no longer
    holds (a version, documents) is cleared and the same outcome always leaves the same record."""
    value = outcome.total_contract_value
    return {
        f.Q2C_STATUS: outcome.status,
        f.Q2C_SAGA_ID: outcome.workflow_id,
        f.Q2C_CONTRACT_ID: outcome.contract_id,
        f.Q2C_CONTRACT_VERSION: outcome.contract_version,
        f.Q2C_TOTAL_CONTRACT_VALUE: None if value is None else value.rounded().amount,
        f.Q2C_INVOICE_IDS: "\n".join(outcome.invoice_ids) or None,
        f.Q2C_CREDIT_NOTE_IDS: "\n".join(outcome.credit_note_ids) or None,
        f.Q2C_MESSAGE: _message(outcome.message),
    }


def payment_fields(update: AccountPaymentUpdate) -> dict[str, str | Decimal]:
    """The Account's Q2C payment fields for `update`. Amounts go as exact numbers, in the account's currency
    (`record_account_payment` checks that it is the payment's)."""
    return {
        f.Q2C_LAST_PAYMENT_DATE: update.paid_on.isoformat(),
        f.Q2C_LAST_PAYMENT_AMOUNT: update.amount.amount,
        f.Q2C_OPEN_RECEIVABLE: update.open_receivable.amount,
        f.Q2C_PAYMENT_STATUS: update.status.value,
        f.Q2C_LAST_INVOICE_PAID: update.invoice_id,
    }
