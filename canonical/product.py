"""What a CRM product code becomes downstream: a billing price, an ERP item, GL accounts, a revenue treatment."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.money import Money


class LineKind(StrEnum):
    RECURRING = "recurring"
    ONE_TIME = "one_time"
    USAGE = "usage"


class RevenueTreatment(StrEnum):
    RATABLE = "ratable"  # satisfied over time, recognised across the service period
    POINT_IN_TIME = "point_in_time"  # satisfied on a delivery milestone
    USAGE = "usage"  # variable consideration, recognised in the period the usage occurs


class SspBasis(StrEnum):
    EACH = "each"
    UNIT_PER_YEAR = "unit_per_year"


class ProductMapping(BaseModel):
    """One row of the mapping rules, copied onto each contract line so the saga's history says what it used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: LineKind
    billing_price_key: str = Field(min_length=1, description="Lookup key of the billing platform's price")
    erp_item: str = Field(min_length=1)
    revenue_account: str = Field(min_length=1)
    deferred_revenue_account: str = Field(min_length=1)
    revenue_treatment: RevenueTreatment
    distinct: bool = Field(True, description="A distinct performance obligation under ASC 606-10-25-19")
    ssp: Money | None = Field(None, description="Standalone selling price, per ssp_basis")
    ssp_basis: SspBasis = SspBasis.EACH
    ssp_low: Money | None = None
    ssp_high: Money | None = None

    @model_validator(mode="after")
    def _ssp_range_is_ordered(self) -> ProductMapping:
        if self.ssp_low is not None and self.ssp_high is not None and self.ssp_high < self.ssp_low:
            raise ValueError("ssp_high is below ssp_low")
        return self
