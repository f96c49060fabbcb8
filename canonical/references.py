"""The IDs each system assigns to the same business object, so any saga can be traced across systems."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class System(StrEnum):
    CRM = "crm"
    BILLING = "billing"
    ERP = "erp"
    REVENUE = "revenue"


class CustomerMatch(BaseModel):
    """A customer found by its external ID (`created` False) or created by this saga (`created` True)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: System
    customer_id: str
    created: bool


class SubscriptionRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscription_id: str
    billing_customer_id: str
    status: str


class RevenueContractRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    revenue_contract_id: str
    obligations: int


class SystemReferences(BaseModel):
    """Everything one closed-won saga created or matched, written back to the CRM opportunity at the end."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crm_opportunity_id: str
    crm_account_id: str | None = None
    erp_customer_id: str | None = None
    billing_customer_id: str | None = None
    subscription_id: str | None = None
    revenue_contract_id: str | None = None
