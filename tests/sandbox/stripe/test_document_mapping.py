"""Stripe lines → canonical billed lines: days, contract line references, and documents that do not add up."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapters.errors import PermanentAdapterError
from adapters.stripe.document_mapping import (
    ContractLineRef,
    LineFacts,
    billed_line,
    build_document,
    contract_line_ref,
    contract_of,
    service_days,
)
from canonical.billing_documents import DocumentKind
from canonical.money import Money
from canonical.problems import ExceptionCategory

from .test_billing import at

REF = ContractLineRef("CTR-1", 1, "PLAT-SEAT")


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (at(2027, 3, 1), at(2027, 4, 1), (date(2027, 3, 1), date(2027, 3, 31))),  # a month, end exclusive
        (at(2027, 7, 15, 12), at(2027, 8, 1), (date(2027, 7, 15), date(2027, 7, 31))),  # a proration
        (at(2026, 12, 15), at(2026, 12, 15), (date(2026, 12, 15), date(2026, 12, 15))),  # a one-time item
        (at(2027, 3, 1), at(2027, 3, 2) + 1, (date(2027, 3, 1), date(2027, 3, 2))),  # a second into the next day
    ],
)
def test_service_days_end_on_the_last_day_served(start: int, end: int, days: tuple[date, date]) -> None:
    assert service_days(start, end) == days


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({}, "contract_id, line_no, product_code"),
        ({"contract_id": "CTR-1", "line_no": "1"}, "product_code"),
        ({"contract_id": "CTR-1", "line_no": "one", "product_code": "P"}, "line_no 'one' is not a number"),
        ({"contract_id": "", "line_no": "1", "product_code": "P"}, "contract_id"),
    ],
)
def test_a_price_without_q2c_metadata_names_what_is_missing(metadata: dict[str, str], named: str) -> None:
    with pytest.raises(PermanentAdapterError) as raised:
        contract_line_ref(metadata, "in_1", "il_2")

    assert raised.value.category is ExceptionCategory.MAPPING_MISSING
    assert "in_1 line il_2" in raised.value.message and named in raised.value.message


def test_a_price_with_q2c_metadata_names_its_contract_line() -> None:
    metadata = {"contract_id": "CTR-1", "line_no": "3", "product_code": "API-OVG", "q2c_created_by": "k"}

    assert contract_line_ref(metadata, "in_1", "il_2") == ContractLineRef("CTR-1", 3, "API-OVG")


def _line(ref: ContractLineRef, minor: int) -> Any:
    facts = LineFacts("il_1", "seats", None, minor, (at(2027, 3, 1), at(2027, 4, 1)), proration=False)
    return billed_line(ref, facts, "usd")


def test_the_subscription_names_the_contract_else_the_lines_do() -> None:
    lines = (_line(REF, 100), _line(ContractLineRef("CTR-1", 2, "ONB"), 5))
    mixed = (*lines, _line(ContractLineRef("CTR-2", 1, "PLAT-SEAT"), 1))

    assert contract_of("in_1", {"contract_id": "CTR-9"}, lines) == "CTR-9"
    assert contract_of("in_1", None, lines) == "CTR-1"
    with pytest.raises(PermanentAdapterError) as raised:
        contract_of("in_1", {}, mixed)
    assert raised.value.category is ExceptionCategory.MAPPING_MISSING and "CTR-1, CTR-2" in raised.value.message


def test_a_document_whose_lines_do_not_add_up_is_refused_as_invalid_data() -> None:
    fields = {
        "document_id": "in_1",
        "kind": DocumentKind.INVOICE,
        "contract_id": "CTR-1",
        "billing_customer_id": "cus_1",
        "currency": "USD",
        "issued_on": date(2027, 3, 1),
        "lines": (_line(REF, 900000),),
        "total": Money.of("9720.00", "USD"),  # with a tax q2c does not map
    }

    with pytest.raises(PermanentAdapterError) as raised:
        build_document(fields)

    assert raised.value.category is ExceptionCategory.INVALID_DATA
    assert "in_1 cannot be read" in raised.value.message and "do not add up" in raised.value.message
    assert build_document({**fields, "total": Money.of("9000.00", "USD")}).lines[0].amount == Money.of("9000", "USD")
