"""A billing document as the ERP books it: enrichment from the mapping rules, in one pure function.

Each billed line becomes an ERP line on the product's ERP item, credited to the product's deferred-revenue
account: the ERP holds billings as a contract liability until the revenue engine's close recognises them (the
engine's own reclassification journal moves what belongs elsewhere). The external ID is the billing document's ID,
so posting twice finds the first; the tax code comes from the rules' tax table by the customer's country (the
NetSuite adapter records it in the memo: the emulator keeps no tax items). Everything wrong is reported at once,
naming the document, line and field.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from canonical.billing_documents import BillingDocument, DocumentKind
from canonical.general_ledger import CreditMemoPosting, InvoiceLine, InvoicePosting
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory, FieldProblem, InvalidRecordError

RATE_PLACES = Decimal("0.000001")


class ErpDocumentMapping(BaseModel):
    """The mapping's outcome: a posting, or the problems that park the saga."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mapping_version: str
    invoice: InvoicePosting | None = None
    credit_memo: CreditMemoPosting | None = None
    problems: tuple[FieldProblem, ...] = ()


def erp_posting_for(document: BillingDocument, rules: MappingRules) -> InvoicePosting | CreditMemoPosting:
    """The ERP invoice (or credit memo) for `document`; InvalidRecordError naming every problem."""
    record = f"{document.kind.value} {document.document_id}"
    problems: list[FieldProblem] = []
    if not document.erp_customer_id:
        problems.append(
            FieldProblem(
                record=record,
                field="erp_customer_id",
                message=f"billing customer {document.billing_customer_id} has no ERP customer ID",
                category=ExceptionCategory.MASTER_DATA_MISMATCH,
            )
        )
    if document.legal_entity and rules.legal_entity(document.legal_entity) is None:
        problems.append(
            FieldProblem(
                record=record,
                field="legal_entity",
                message=f"legal entity {document.legal_entity} is not in mapping rules {rules.version}",
                category=ExceptionCategory.MAPPING_MISSING,
            )
        )
    tax_code = _tax_code(document, rules, record, problems)
    lines: list[InvoiceLine] = []
    for line in document.lines:
        product = rules.product(line.product_code)
        if product is None:
            problems.append(
                FieldProblem(
                    record=f"{record} line {line.line_id}",
                    field="product_code",
                    message=f"product {line.product_code} is not in mapping rules {rules.version}",
                    category=ExceptionCategory.MAPPING_MISSING,
                )
            )
            continue
        quantity, rate = _quantity_and_rate(line.quantity, line.amount.amount)
        lines.append(
            InvoiceLine(
                item=product.erp_item,
                quantity=quantity,
                rate=rate,
                amount=line.amount.amount,
                description=_description(line.description, line.period_start, line.period_end, line.proration),
                account=product.deferred_revenue_account,
            )
        )
    if problems:
        raise InvalidRecordError(tuple(problems))
    assert document.erp_customer_id is not None
    common = {
        "external_id": document.document_id,
        "customer_id": document.erp_customer_id,
        "tran_date": document.issued_on,
        "currency": document.currency,
        "lines": tuple(lines),
        "tax_code": tax_code,
        "memo": f"{document.number or document.document_id} · contract {document.contract_id} · tax {tax_code}",
    }
    if document.kind is DocumentKind.CREDIT_NOTE:
        return CreditMemoPosting(**common)
    return InvoicePosting(**common)


def _tax_code(document: BillingDocument, rules: MappingRules, record: str, problems: list[FieldProblem]) -> str | None:
    """The tax code of the customer's country; a country the rules do not know is a tax failure."""
    country = document.customer_country
    rule = rules.tax_rule(country) if country else None
    if rule is None:
        message = (
            f"no tax code for country {country} in mapping rules {rules.version}"
            if country
            else f"billing customer {document.billing_customer_id} has no country to choose a tax code by"
        )
        problems.append(
            FieldProblem(
                record=record, field="customer_country", message=message, category=ExceptionCategory.TAX_FAILURE
            )
        )
        return None
    return rule.tax_code


def _quantity_and_rate(quantity: Decimal | None, amount: Decimal) -> tuple[Decimal, Decimal]:
    """The billed quantity at its unit rate when that rate is exact to six places (90.00 a seat, 0.002 a call);
    otherwise one unit at the amount, so quantity × rate is always the amount to the cent."""
    if quantity:
        rate = amount / quantity
        if rate == rate.quantize(RATE_PLACES) and rate * quantity == amount:
            return quantity, rate
    return Decimal(1), amount


def _description(text: str, start: object, end: object, proration: bool) -> str:
    period = f"{start} – {end}"
    return f"{text} ({period}{', prorated' if proration else ''})" if text else period
