"""The demo's CRM data: the reference scenario's deal and its mid-year amendment, plus a non-standard deal and one
with bad data.

The reference deal and amendment come from `scenarios/reference-year.toml` (a copy of the shared reference
scenario), so the demo and the tests run the same contract year that finance reviews.
"""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.crm_deal import CrmAccountRecord, CrmDeal, CrmOpportunityRecord, CrmQuoteLineRecord

REFERENCE_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "reference-year.toml"
NON_STANDARD_OPPORTUNITY = "006NW0000000003"
INCOMPLETE_OPPORTUNITY = "006NW0000000004"
AMENDMENT_OPPORTUNITY = "006NW0000000002"
_SCENARIO_CHANGES = {"add": "add_product", "remove": "remove_product"}  # the scenario's words → the CRM picklist


def reference_deal(scenario: Path = REFERENCE_SCENARIO) -> CrmDeal:
    data = tomllib.loads(scenario.read_text(encoding="utf-8"))
    customer, opportunity = data["customer"], data["opportunity"]
    return CrmDeal(
        account=CrmAccountRecord(
            account_id=customer["crm_account_id"],
            name=customer["name"],
            billing_country=customer["country"],
            currency=customer["currency"],
            legal_entity=customer["legal_entity"],
            tax_id=customer["tax_id"],
            billing_contact_name=customer["billing_contact"]["name"],
            billing_contact_email=customer["billing_contact"]["email"],
            payment_terms_days=customer["payment_terms_days"],
        ),
        opportunity=CrmOpportunityRecord(
            opportunity_id=opportunity["crm_opportunity_id"],
            account_id=customer["crm_account_id"],
            name=f"{customer['name']} — platform, year one",
            owner=opportunity["owner"],
            stage="Closed Won",
            closed_won_on=opportunity["closed_won_on"],
            contract_start=opportunity["contract_start"],
            contract_end=opportunity["contract_end"],
            currency=customer["currency"],
        ),
        lines=tuple(_quote_line(n, line) for n, line in enumerate(opportunity["lines"], start=1)),
    )


def _quote_line(line_no: int, line: dict[str, Any]) -> CrmQuoteLineRecord:
    kind = line["kind"]
    fields: dict[str, Any] = {"line_no": line_no, "product_code": line["product_code"]}
    if kind == "recurring":
        fields |= {
            "quantity": Decimal(line["quantity"]),
            "list_unit_price": Decimal(line["list_price_per_unit_month"]),
            "net_unit_price": Decimal(line["net_price_per_unit_month"]),
            "discount_percent": Decimal(line["discount_percent"]),
        }
    elif kind == "one_time":
        fields |= {"amount": Decimal(line["amount"]), "delivered_on": line.get("delivered_on")}
    elif kind == "usage":
        fields |= {
            "usage_unit": line["unit"],
            "included_per_month": Decimal(line["included_per_month"]),
            "unit_price_over_included": Decimal(line["price_per_unit_over_included"]),
        }
    return CrmQuoteLineRecord(**fields)


def non_standard_deal() -> CrmDeal:
    """A deal finance must approve: a 30% discount and 60-day payment terms."""
    return CrmDeal(
        account=CrmAccountRecord(
            account_id="001NW0000000002",
            name="Contoso Robotics Inc.",
            billing_country="US",
            currency="USD",
            tax_id="US-91-7654321",
            billing_contact_name="Lee Park",
            billing_contact_email="billing@contoso.example",
            payment_terms_days=60,
        ),
        opportunity=CrmOpportunityRecord(
            opportunity_id=NON_STANDARD_OPPORTUNITY,
            account_id="001NW0000000002",
            name="Contoso Robotics — strategic platform deal",
            owner="sam.seller",
            stage="Closed Won",
            closed_won_on=date(2026, 12, 18),
            contract_start=date(2027, 1, 1),
            contract_end=date(2027, 12, 31),
            currency="USD",
        ),
        lines=(
            CrmQuoteLineRecord(
                line_no=1,
                product_code="PLAT-SEAT",
                quantity=Decimal(250),
                list_unit_price=Decimal("100.00"),
                net_unit_price=Decimal("70.00"),
                discount_percent=Decimal(30),
            ),
        ),
    )


def incomplete_deal() -> CrmDeal:
    """A deal with the data problems sales ops meets every week: no tax ID, no billing contact."""
    deal = non_standard_deal()
    return CrmDeal(
        account=deal.account.model_copy(
            update={
                "account_id": "001NW0000000003",
                "name": "Fabrikam Labs Inc.",
                "tax_id": None,
                "billing_contact_name": None,
                "billing_contact_email": None,
                "payment_terms_days": 30,
            }
        ),
        opportunity=deal.opportunity.model_copy(
            update={
                "opportunity_id": INCOMPLETE_OPPORTUNITY,
                "account_id": "001NW0000000003",
                "name": "Fabrikam Labs — starter",
            }
        ),
        lines=(
            deal.lines[0].model_copy(
                update={
                    "quantity": Decimal(20),
                    "net_unit_price": Decimal("95.00"),
                    "discount_percent": Decimal(5),
                }
            ),
        ),
    )


def demo_deals() -> tuple[CrmDeal, ...]:
    return (reference_deal(), non_standard_deal(), incomplete_deal())


def reference_amendment(scenario: Path = REFERENCE_SCENARIO) -> CrmAmendment:
    """The reference year's amendment as the CRM holds it once signed: 50 more seats and the premium module from
    15 July, against version 1 of the reference contract (`CTR-<original opportunity>`)."""
    data = tomllib.loads(scenario.read_text(encoding="utf-8"))
    customer, opportunity, amendment = data["customer"], data["opportunity"], data["amendment"]
    contract_lines = [line["product_code"] for line in opportunity["lines"]]
    return CrmAmendment(
        opportunity_id=amendment["crm_opportunity_id"],
        opportunity_type="Amendment",
        name=f"{customer['name']} — 50 more seats and the premium module",
        account_id=customer["crm_account_id"],
        owner=opportunity["owner"],
        stage="Closed Won",
        currency=customer["currency"],
        contract_id=f"CTR-{opportunity['crm_opportunity_id']}",
        contract_version=amendment["references_contract_version"],
        effective=amendment["effective"],
        credit_behavior="credit_note",
        added_goods_distinct=amendment["added_goods_distinct"],
        priced_at_ssp=amendment["priced_at_ssp"],
        remaining_goods_distinct=amendment["remaining_goods_distinct"],
        changes=tuple(
            _amendment_change(n, change, contract_lines) for n, change in enumerate(amendment["changes"], start=1)
        ),
    )


def _amendment_change(change_no: int, change: dict[str, Any], contract_lines: list[str]) -> CrmAmendmentChangeRecord:
    kind = _SCENARIO_CHANGES.get(change["change"], change["change"])
    fields: dict[str, Any] = {
        "change_no": change_no,
        "change": kind,
        "product_code": change["product_code"],
        "net_unit_price": Decimal(change["net_price_per_unit_month"]),
    }
    if kind == "add_product":
        fields["quantity"] = Decimal(change["quantity"])
    else:  # the scenario names the contract line by its product: line numbers follow the quote's order
        fields |= {"line_no": contract_lines.index(change["product_code"]) + 1, "quantity": Decimal(change["to"])}
    return CrmAmendmentChangeRecord(**fields)
