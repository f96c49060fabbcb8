"""An amendment exactly as the CRM holds it: an opportunity of type Amendment naming the contract and version it
changes, with one record per change. Lenient, like `canonical.crm_deal`: every field may be missing, and
`canonical.amendment_mapping.build_amendment` says precisely what is wrong with which record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class CrmAmendmentChangeRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    change_no: int  # the change's position on the amendment, as the CRM numbers its lines
    change: str | None = None  # quantity, add_product, remove_product, price, term_extension, cancellation
    product_code: str | None = None
    line_no: int | None = None  # the contract line changed
    quantity: Decimal | None = None  # the new quantity
    net_unit_price: Decimal | None = None  # per month
    currency: str | None = None
    term_end: date | None = None  # the new last day of the term (term_extension)
    cancellation: str | None = None  # immediate, period_end


class CrmAmendment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opportunity_id: str
    opportunity_type: str | None = None  # "Amendment" (Salesforce's Type picklist)
    name: str | None = None
    account_id: str | None = None
    owner: str | None = None
    stage: str | None = None
    currency: str | None = None  # the opportunity's, which its prices are in
    contract_id: str | None = None
    contract_version: int | None = None
    effective: datetime | None = None
    credit_behavior: str | None = None  # credit_note, carry_forward
    added_goods_distinct: bool | None = None
    priced_at_ssp: bool | None = None
    remaining_goods_distinct: bool | None = None
    changes: tuple[CrmAmendmentChangeRecord, ...] = ()

    @property
    def label(self) -> str:
        return f"Opportunity {self.opportunity_id}"
