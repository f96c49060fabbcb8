"""A closed-won deal exactly as the CRM holds it: lenient, because the CRM is where bad data comes from.

These records are not trusted: every field may be missing. `canonical.contract_mapping.build_contract` turns
one into a strict `Contract`, or says precisely what is wrong with which record.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class CrmAccountRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    name: str | None = None
    billing_country: str | None = None
    currency: str | None = None
    legal_entity: str | None = None
    tax_id: str | None = None
    billing_contact_name: str | None = None
    billing_contact_email: str | None = None
    payment_terms_days: int | None = None
    billing_street: str | None = None
    billing_city: str | None = None
    billing_postal_code: str | None = None

    @property
    def label(self) -> str:
        return f"Account {self.account_id}"


class CrmRampPhaseRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date | None = None
    end: date | None = None
    quantity: Decimal | None = None
    net_unit_price: Decimal | None = None


class CrmQuoteLineRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line_no: int
    product_code: str | None = None
    quantity: Decimal | None = None
    list_unit_price: Decimal | None = None
    net_unit_price: Decimal | None = None
    discount_percent: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None
    billing_frequency: str | None = None
    service_start: date | None = None
    service_end: date | None = None
    usage_unit: str | None = None
    included_per_month: Decimal | None = None
    unit_price_over_included: Decimal | None = None
    delivered_on: date | None = None
    ramp_phases: tuple[CrmRampPhaseRecord, ...] = ()


class CrmOpportunityRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opportunity_id: str
    account_id: str | None = None
    name: str | None = None
    owner: str | None = None
    stage: str | None = None
    closed_won_on: date | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    currency: str | None = None

    @property
    def label(self) -> str:
        return f"Opportunity {self.opportunity_id}"


class CrmDeal(BaseModel):
    """The opportunity with its quote lines and account, read in one go at the start of a saga."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opportunity: CrmOpportunityRecord
    account: CrmAccountRecord
    lines: tuple[CrmQuoteLineRecord, ...] = ()
