"""A billing document as the ERP books it: items, deferred-revenue accounts, tax code, every problem named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from canonical.billing_documents import BilledLine, BillingDocument, DocumentKind
from canonical.erp_documents import erp_posting_for
from canonical.general_ledger import CreditMemoPosting, InvoicePosting
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from canonical.problems import ExceptionCategory, InvalidRecordError


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def line(line_id: str, line_no: int, product: str, amount: str, quantity: str | None = None) -> BilledLine:
    return BilledLine(
        line_id=line_id,
        contract_id="CTR-1",
        line_no=line_no,
        product_code=product,
        description=product,
        quantity=Decimal(quantity) if quantity else None,
        amount=usd(amount),
        period_start=date(2027, 3, 1),
        period_end=date(2027, 3, 31),
    )


def document(**changes: Any) -> BillingDocument:
    lines = changes.pop(
        "lines",
        (line("il_1", 1, "PLAT-SEAT", "9000.00", "100"), line("il_2", 3, "API-OVG", "400.00", "200000")),
    )
    fields: dict[str, Any] = {
        "document_id": "in_1",
        "kind": DocumentKind.INVOICE,
        "number": "NW-0003",
        "contract_id": "CTR-1",
        "billing_customer_id": "cus_1",
        "erp_customer_id": "7",
        "legal_entity": "US01",
        "customer_country": "US",
        "currency": "USD",
        "issued_on": date(2027, 3, 1),
        "lines": lines,
        "total": usd(str(sum(item.amount.amount for item in lines))),
    } | changes
    return BillingDocument(**fields)


def test_each_line_is_booked_on_its_item_against_deferred_revenue_with_the_country_tax_code(
    mapping_rules: MappingRules,
) -> None:
    posting = erp_posting_for(document(), mapping_rules)

    assert isinstance(posting, InvoicePosting)
    assert (posting.external_id, posting.customer_id, posting.tax_code) == ("in_1", "7", "US-SAAS")
    booked = [(item.item, item.quantity, item.rate, item.amount, item.account) for item in posting.lines]
    assert booked == [
        ("SUB-PLATFORM", Decimal(100), Decimal("90.00"), Decimal("9000.00"), "2400"),
        ("USG-API", Decimal(200000), Decimal("0.002"), Decimal("400.00"), "2400"),
    ]
    assert posting.total == Decimal("9400.00")


def test_a_rate_that_is_not_exact_books_one_unit_at_the_amount(mapping_rules: MappingRules) -> None:
    prorated = line("il_9", 4, "PLAT-SEAT", "100.00", "3")  # 33.333... a seat: not exact to six places
    exact = line("il_8", 4, "PLAT-SEAT", "2467.74", "50")  # 49.3548 a seat: exact

    first, second = erp_posting_for(document(lines=(prorated, exact)), mapping_rules).lines

    assert (first.quantity, first.rate, first.amount) == (Decimal(1), Decimal("100.00"), Decimal("100.00"))
    assert (second.quantity, second.rate) == (Decimal(50), Decimal("49.3548"))


def test_a_credit_note_becomes_a_credit_memo(mapping_rules: MappingRules) -> None:
    posting = erp_posting_for(document(kind=DocumentKind.CREDIT_NOTE, document_id="cn_1"), mapping_rules)

    assert isinstance(posting, CreditMemoPosting)
    assert posting.external_id == "cn_1"


def test_every_problem_is_named_at_once_with_its_category(mapping_rules: MappingRules) -> None:
    bad = document(
        erp_customer_id=None,
        customer_country="ZZ",
        lines=(line("il_1", 1, "PLAT-SEAT", "9000.00"), line("il_7", 6, "GOLD-SUPPORT", "50.00")),
    )

    with pytest.raises(InvalidRecordError) as raised:
        erp_posting_for(bad, mapping_rules)

    found = {(p.record, p.field, p.category) for p in raised.value.problems}
    assert found == {
        ("invoice in_1", "erp_customer_id", ExceptionCategory.MASTER_DATA_MISMATCH),
        ("invoice in_1", "customer_country", ExceptionCategory.TAX_FAILURE),
        ("invoice in_1 line il_7", "product_code", ExceptionCategory.MAPPING_MISSING),
    }


def test_a_customer_without_a_country_is_a_tax_failure(mapping_rules: MappingRules) -> None:
    with pytest.raises(InvalidRecordError) as raised:
        erp_posting_for(document(customer_country=None), mapping_rules)

    [problem] = raised.value.problems
    assert problem.category is ExceptionCategory.TAX_FAILURE
    assert "cus_1 has no country" in problem.message
