"""The customer as every system must agree on it: legal entity, currency, tax IDs, who pays and when."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from canonical.currencies import is_known_currency

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if not _COUNTRY.match(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if not is_known_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


class Address(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: str = Field(min_length=1)
    city: str = Field(min_length=1)
    postal_code: str = ""
    region: str = ""
    country: str

    _check_country = field_validator("country")(_country_code)


class BillingContact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    email: str

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class TaxId(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str
    value: str = Field(min_length=1)

    _check_country = field_validator("country")(_country_code)


class Customer(BaseModel):
    """A bill-to customer, identified across systems by its CRM account ID (the ERP and billing external ID)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crm_account_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    legal_entity: str = Field(min_length=1, description="Code of the selling legal entity, e.g. US01")
    currency: str
    country: str
    tax_ids: tuple[TaxId, ...] = ()
    billing_contact: BillingContact
    payment_terms_days: int = Field(ge=0, le=365)
    billing_address: Address | None = None

    _check_country = field_validator("country")(_country_code)
    _check_currency = field_validator("currency")(_currency_code)
