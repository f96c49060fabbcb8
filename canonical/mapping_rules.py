"""The mapping rules: CRM product code → billing price → ERP item and accounts → revenue treatment, plus legal
entity routing, tax codes and payment terms.

Finance edits them as a versioned TOML file (`config/mapping-rules.toml`); workers validate the file at start
and every saga records the `version` it mapped with, so a posting can always be explained later.
"""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from canonical.problems import InvalidRecordError, problems_from_validation_error
from canonical.product import ProductMapping


class LegalEntityRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    countries: tuple[str, ...] = Field(min_length=1)
    currencies: tuple[str, ...] = Field(min_length=1)
    erp_subsidiary: str = Field(min_length=1)

    def sells_in(self, country: str, currency: str) -> bool:
        return country in self.countries and currency in self.currencies


class TaxRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(min_length=2, max_length=2)
    tax_code: str = Field(min_length=1)
    tax_id_required: bool = True


class PaymentTermsRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(ge=0, le=365)
    erp_terms: str = Field(min_length=1)


class MappingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    products: tuple[ProductMapping, ...] = Field(min_length=1)
    legal_entities: tuple[LegalEntityRule, ...] = Field(min_length=1)
    tax: tuple[TaxRule, ...] = ()
    payment_terms: tuple[PaymentTermsRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys_are_unique(self) -> MappingRules:
        for name, keys in (
            ("products", [p.product_code for p in self.products]),
            ("legal_entities", [e.code for e in self.legal_entities]),
            ("tax", [t.country for t in self.tax]),
            ("payment_terms", [str(t.days) for t in self.payment_terms]),
        ):
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                raise ValueError(f"{name} lists {', '.join(repeated)} more than once")
        return self

    def product(self, product_code: str) -> ProductMapping | None:
        return next((p for p in self.products if p.product_code == product_code), None)

    def legal_entity(self, code: str) -> LegalEntityRule | None:
        return next((e for e in self.legal_entities if e.code == code), None)

    def route_legal_entity(self, country: str, currency: str) -> LegalEntityRule | None:
        return next((e for e in self.legal_entities if e.sells_in(country, currency)), None)

    def tax_rule(self, country: str) -> TaxRule | None:
        return next((t for t in self.tax if t.country == country), None)

    def terms_for(self, days: int) -> PaymentTermsRule | None:
        return next((t for t in self.payment_terms if t.days == days), None)


def parse_mapping_rules(text: str, source: str = "mapping rules") -> MappingRules:
    """Parse the TOML text of a rules file; every problem names the file and the field."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source} is not valid TOML: {error}") from error
    try:
        return MappingRules.model_validate(data)
    except ValidationError as error:
        raise InvalidRecordError(problems_from_validation_error(source, error)) from error
