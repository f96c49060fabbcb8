"""The double-entry ledger behind the emulator, driven through the adapter: postings balance per period,
closed periods refuse postings, and the receivables sub-ledger follows invoices, credits and payments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from adapters.netsuite import NetSuiteErp, NetSuiteRecordError
from canonical.general_ledger import (
    CreditMemoPosting,
    CustomerPaymentPosting,
    InvoiceLine,
    InvoicePosting,
    JournalEntryPosting,
    JournalLine,
    PaymentApplication,
)
from canonical.problems import ExceptionCategory
from tests.sandbox.netsuite.conftest import Emulator, customer

JAN = date(2027, 1, 15)


def _invoice(customer_id: str, external_id: str = "in_1001", on: date = JAN, **overrides: object) -> InvoicePosting:
    lines = (
        InvoiceLine(item="SUB-PLATFORM", quantity=Decimal(40), rate=Decimal("85.00"), amount=Decimal("3400.00")),
        InvoiceLine(item="SVC-ONBOARDING", rate=Decimal("18000.00"), amount=Decimal("18000.00")),
        InvoiceLine(item="USG-API", quantity=Decimal("12500"), rate=Decimal("0.004"), amount=Decimal("50.00")),
    )
    values: dict[str, object] = {
        "external_id": external_id,
        "customer_id": customer_id,
        "tran_date": on,
        "currency": "USD",
        "lines": lines,
    }
    return InvoicePosting.model_validate(values | overrides)


async def _customer_id(erp: NetSuiteErp) -> str:
    return (await erp.match_or_create_customer(customer(), "saga-ledger/erp_customer")).customer_id


async def test_invoice_payment_credit_and_journal_keep_each_period_balanced(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        invoice = await erp.post_invoice(_invoice(customer_id))
        assert invoice.total == Decimal("21450.00")
        await erp.post_customer_payment(
            CustomerPaymentPosting(
                external_id="ch_1",
                customer_id=customer_id,
                tran_date=date(2027, 1, 31),
                amount=Decimal("20000.00"),
                currency="USD",
                applications=(PaymentApplication(invoice_id=invoice.internal_id, amount=Decimal("20000.00")),),
            )
        )
        await erp.post_credit_memo(
            CreditMemoPosting(
                external_id="cn_1",
                customer_id=customer_id,
                tran_date=date(2027, 2, 3),
                currency="USD",
                lines=(InvoiceLine(item="USG-API", rate=Decimal("50.00"), amount=Decimal("50.00")),),
                applies_to_invoice_id=invoice.internal_id,
            )
        )
        await erp.post_journal_entry(
            JournalEntryPosting(
                external_id="je_rev_2027_02",
                tran_date=date(2027, 2, 28),
                legal_entity="US01",
                lines=(
                    JournalLine(account="2400", debit=Decimal("283.33")),
                    JournalLine(account="4000", credit=Decimal("283.33")),
                ),
            )
        )
        january = await erp.trial_balance(await erp.accounting_period_for(JAN))
        february = await erp.trial_balance(await erp.accounting_period_for(date(2027, 2, 1)))
        assert await erp.invoice_amount_remaining("in_1001") == Decimal("1400.00")
        assert await erp.customer_open_balance(customer_id) == Decimal("1400.00")

    assert january.period.name == "Jan 2027" and january.is_balanced and february.is_balanced
    assert january.total_debit == Decimal("41450.00")
    by_number = {line.account_number: (line.debit, line.credit) for line in january.lines}
    assert by_number == {
        "1000": (Decimal("20000.00"), Decimal(0)),
        "1100": (Decimal("21450.00"), Decimal("20000.00")),
        "4000": (Decimal(0), Decimal("3400.00")),
        "4100": (Decimal(0), Decimal("18000.00")),
        "4200": (Decimal(0), Decimal("50.00")),
    }
    assert january.line("1100").account_name == "Accounts Receivable"  # type: ignore[union-attr]
    assert {line.account_number: line.net for line in february.lines} == {
        "1100": Decimal("-50.00"),
        "2400": Decimal("283.33"),
        "4000": Decimal("-283.33"),
        "4200": Decimal("50.00"),
    }


async def test_posting_the_same_invoice_twice_leaves_one_transaction(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        first = await erp.post_invoice(_invoice(customer_id))
        second = await erp.post_invoice(_invoice(customer_id))
        balance = await erp.trial_balance(first.posting_period_id)
    assert first == second
    assert len(await emulator.suiteql("SELECT id FROM transaction WHERE externalid = 'in_1001'")) == 1
    assert balance.line("1100").debit == Decimal("21450.00")  # type: ignore[union-attr]


async def test_a_line_can_credit_deferred_revenue_instead(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        line = InvoiceLine(
            item="SUB-PLATFORM",
            quantity=Decimal(40),
            rate=Decimal("1020.00"),
            amount=Decimal("40800.00"),
            account="2400",
        )
        posted = await erp.post_invoice(_invoice(customer_id, lines=(line,)))
        balance = await erp.trial_balance(posted.posting_period_id)
    assert {line.account_number: line.net for line in balance.lines} == {
        "1100": Decimal("40800.00"),
        "2400": Decimal("-40800.00"),
    }


async def test_a_closed_period_refuses_postings(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        await emulator.close_period("2027-01")
        period = await erp.accounting_period_for(JAN)
        assert period.closed
        with pytest.raises(NetSuiteRecordError) as invoice_error:
            await erp.post_invoice(_invoice(customer_id))
        with pytest.raises(NetSuiteRecordError) as journal_error:
            await erp.post_journal_entry(
                JournalEntryPosting(
                    external_id="je_closed",
                    tran_date=date(2027, 3, 1),
                    posting_period_id=period.period_id,
                    legal_entity="US01",
                    lines=(
                        JournalLine(account="1000", debit=Decimal(1)),
                        JournalLine(account="4000", credit=Decimal(1)),
                    ),
                )
            )
        assert (await erp.trial_balance(period)).lines == ()

        await emulator.close_period("2027-01", closed=False)
        posted = await erp.post_invoice(_invoice(customer_id))
        await emulator.close_period("2027-01")
        with pytest.raises(NetSuiteRecordError) as change_error:  # nor may a posted transaction change there
            await erp.client.update("invoice", posted.internal_id, {"tranDate": "2027-02-01"})
        # Posting it again is no change: the adapter finds the invoice by external ID and returns it.
        assert await erp.post_invoice(_invoice(customer_id, on=date(2027, 2, 1))) == posted
    for error in (invoice_error, journal_error, change_error):
        assert error.value.category is ExceptionCategory.CLOSED_PERIOD
        assert error.value.error_path == "postingPeriod"
    assert posted.posting_period_id == period.period_id


async def test_over_application_and_unbalanced_journals_are_refused(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        invoice = await erp.post_invoice(_invoice(customer_id))
        with pytest.raises(NetSuiteRecordError) as over_applied:
            await erp.post_customer_payment(
                CustomerPaymentPosting(
                    external_id="ch_too_much",
                    customer_id=customer_id,
                    tran_date=JAN,
                    amount=Decimal("30000.00"),
                    currency="USD",
                    applications=(PaymentApplication(invoice_id=invoice.internal_id, amount=Decimal("30000.00")),),
                )
            )
    assert over_applied.value.category is ExceptionCategory.INVALID_DATA
    assert over_applied.value.error_path == "apply.items[0].amount"

    with pytest.raises(ValidationError, match="differ"):  # the adapter refuses before sending ...
        JournalEntryPosting(
            external_id="je",
            tran_date=JAN,
            legal_entity="US01",
            lines=(JournalLine(account="1000", debit=Decimal(2)), JournalLine(account="4000", credit=Decimal(1))),
        )
    async with emulator.admin() as http:  # ... and NetSuite (the emulator) refuses it too
        response = await http.post(
            "/record/v1/journalEntry",
            json={
                "subsidiary": {"id": "1"},
                "tranDate": "2027-01-15",
                "line": {"items": [{"account": {"id": "1"}, "debit": 2}, {"account": {"id": "6"}, "credit": 1.5}]},
            },
        )
    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorPath"] == "line"
    assert await emulator.suiteql("SELECT id FROM transaction WHERE type = 'Journal'") == []


async def test_money_is_exact_on_the_wire(emulator: Emulator) -> None:
    """Amounts that float cannot hold exactly come back digit for digit (JSON numbers, parsed as Decimal)."""
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        line = InvoiceLine(item="USG-API", quantity=Decimal(3), rate=Decimal("0.1"), amount=Decimal("0.30"))
        posted = await erp.post_invoice(_invoice(customer_id, external_id="in_tiny", lines=(line,) * 3))
        big = InvoiceLine(item="SUB-PREMIUM", rate=Decimal("12345678901234.57"), amount=Decimal("12345678901234.57"))
        large = await erp.post_invoice(_invoice(customer_id, external_id="in_big", lines=(big,)))
    assert posted.total == Decimal("0.90") and large.total == Decimal("12345678901234.57")
    with pytest.raises(ValidationError):
        InvoiceLine(item="USG-API", rate=0.1, amount=Decimal("0.1"))
