"""The GeneralLedgerPort on NetSuiteErp over real HTTP against the emulator: transactions found by external ID,
postings made once however often they are sent, closed periods refused and skipped, cumulative balances, and
closing periods through the emulator's admin surface (NetSuite closes them in its UI, not over REST)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.netsuite import NetSuiteErp
from adapters.ports import GeneralLedgerPort
from canonical.general_ledger import (
    AccountingPeriod,
    CreditMemoPosting,
    CustomerPaymentPosting,
    InvoiceLine,
    InvoicePosting,
    JournalEntryPosting,
    JournalLine,
    PaymentApplication,
    PostedTransaction,
)
from canonical.problems import ExceptionCategory
from sandbox.netsuite import close_period
from tests.sandbox.netsuite.conftest import Emulator, customer

JAN = date(2027, 1, 15)
FEB = date(2027, 2, 10)


def _invoice(customer_id: str, external_id: str = "in_2001", on: date = JAN) -> InvoicePosting:
    return InvoicePosting(
        external_id=external_id,
        customer_id=customer_id,
        tran_date=on,
        currency="USD",
        lines=(
            InvoiceLine(item="SUB-PLATFORM", quantity=Decimal(100), rate=Decimal("90.00"), amount=Decimal("9000.00")),
            InvoiceLine(item="SVC-ONBOARDING", rate=Decimal("15000.00"), amount=Decimal("15000.00"), account="2400"),
        ),
    )


def _payment(customer_id: str, invoice_id: str, amount: str = "24000.00", on: date = FEB) -> CustomerPaymentPosting:
    return CustomerPaymentPosting(
        external_id="ch_2001",
        customer_id=customer_id,
        tran_date=on,
        amount=Decimal(amount),
        currency="USD",
        applications=(PaymentApplication(invoice_id=invoice_id, amount=Decimal(amount)),),
    )


def _credit_memo(customer_id: str, invoice_id: str) -> CreditMemoPosting:
    return CreditMemoPosting(
        external_id="cn_2001",
        customer_id=customer_id,
        tran_date=FEB,
        currency="USD",
        lines=(InvoiceLine(item="SUB-PLATFORM", rate=Decimal("900.00"), amount=Decimal("900.00")),),
        applies_to_invoice_id=invoice_id,
    )


def _journal(
    external_id: str = "je_2001", on: date = FEB, amount: str = "1250.00", **overrides: object
) -> JournalEntryPosting:
    values: dict[str, object] = {
        "external_id": external_id,
        "tran_date": on,
        "legal_entity": "US01",
        "lines": (
            JournalLine(account="2400", debit=Decimal(amount)),
            JournalLine(account="4100", credit=Decimal(amount)),
        ),
    }
    return JournalEntryPosting.model_validate(values | overrides)


async def _customer_id(erp: NetSuiteErp) -> str:
    return (await erp.match_or_create_customer(customer(), "saga-gl/erp_customer")).customer_id


async def _transactions(emulator: Emulator, external_id: str) -> int:
    return len(await emulator.suiteql(f"SELECT id FROM transaction WHERE externalid = '{external_id}'"))


async def test_posted_transaction_finds_each_kind_by_external_id(emulator: Emulator) -> None:
    async with emulator.erp() as netsuite:
        erp: GeneralLedgerPort = netsuite  # the port's methods, as the saga's activities see them (mypy checks)
        customer_id = await _customer_id(netsuite)
        assert await erp.posted_transaction("invoice", "in_2001") is None
        invoice = await erp.post_invoice(_invoice(customer_id))
        memo = await erp.post_credit_memo(_credit_memo(customer_id, invoice.internal_id))
        payment = await erp.post_customer_payment(_payment(customer_id, invoice.internal_id, "23100.00"))
        journal = await erp.post_journal_entry(_journal())

        found = {
            kind: await erp.posted_transaction(kind, external_id)
            for kind, external_id in (
                ("invoice", "in_2001"),
                ("creditMemo", "cn_2001"),
                ("customerPayment", "ch_2001"),
                ("journalEntry", "je_2001"),
            )
        }
        assert await erp.posted_transaction("journalEntry", "in_2001") is None  # the ID of another kind
        assert await erp.posted_transaction("invoice", "in_2001/../ with spaces") is None
        with pytest.raises(PermanentAdapterError) as unknown_kind:
            await erp.posted_transaction("salesOrder", "so_1")

    assert found == {"invoice": invoice, "creditMemo": memo, "customerPayment": payment, "journalEntry": journal}
    assert invoice == PostedTransaction(
        record_type="invoice",
        internal_id=invoice.internal_id,
        external_id="in_2001",
        posting_period_id=emulator.ids.periods["2027-01"],
        total=Decimal("24000.00"),
    )
    assert (memo.total, payment.total, journal.total) == (Decimal("900.00"), Decimal("23100.00"), Decimal("1250.00"))
    assert payment.posting_period_id == emulator.ids.periods["2027-02"]
    assert unknown_kind.value.category is ExceptionCategory.INVALID_DATA


async def test_posting_again_returns_the_transaction_already_there(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        invoice = await erp.post_invoice(_invoice(customer_id))

        async def post_each() -> dict[str, PostedTransaction]:
            posted = (
                await erp.post_invoice(_invoice(customer_id)),
                await erp.post_credit_memo(_credit_memo(customer_id, invoice.internal_id)),
                await erp.post_customer_payment(_payment(customer_id, invoice.internal_id, "23100.00")),
                await erp.post_journal_entry(_journal()),
            )
            return {transaction.external_id: transaction for transaction in posted}

        firsts = await post_each()
        seconds = await post_each()
        # Once January and February are closed, a retry still gets its transaction back: nothing is rewritten.
        await emulator.close_period("2027-01")
        await emulator.close_period("2027-02")
        thirds = await post_each()
        january = await erp.trial_balance(invoice.posting_period_id)

    assert firsts == seconds == thirds
    assert firsts["in_2001"] == invoice
    assert [await _transactions(emulator, external_id) for external_id in firsts] == [1, 1, 1, 1]
    assert january.line("1100").debit == Decimal("24000.00")  # type: ignore[union-attr]  # booked once


async def test_a_posting_into_a_closed_period_is_a_closed_period_problem(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        await emulator.close_period("2027-02")
        with pytest.raises(PermanentAdapterError) as by_date:
            await erp.post_invoice(_invoice(customer_id, on=FEB))
        with pytest.raises(PermanentAdapterError) as by_period:
            await erp.post_journal_entry(_journal(on=JAN, posting_period_id=emulator.ids.periods["2027-02"]))
        assert await erp.posted_transaction("invoice", "in_2001") is None

    for error in (by_date, by_period):
        assert error.value.category is ExceptionCategory.CLOSED_PERIOD
        assert "closed" in error.value.message
    assert await _transactions(emulator, "je_2001") == 0


async def test_next_open_period_skips_closed_ones(emulator: Emulator) -> None:
    async with emulator.erp() as netsuite:
        erp: GeneralLedgerPort = netsuite
        january = await erp.accounting_period_for(JAN)
        assert (await erp.next_open_period(january)).name == "Feb 2027"

        await emulator.close_period("2027-02")
        await emulator.close_period("2027-03")
        after_january = await erp.next_open_period(january)
        closed_january = await erp.next_open_period(january.model_copy(update={"closed": True}))

        last = await erp.accounting_period_for(date(2028, 1, 31))
        with pytest.raises(NotFoundError):
            await erp.next_open_period(last)
        await emulator.close_period("2028-01")
        december = await erp.accounting_period_for(date(2027, 12, 1))
        with pytest.raises(NotFoundError):
            await erp.next_open_period(december)

    assert after_january == AccountingPeriod(
        period_id=emulator.ids.periods["2027-04"],
        name="Apr 2027",
        start=date(2027, 4, 1),
        end=date(2027, 4, 30),
        closed=False,
    )
    assert closed_january == after_january


async def test_cumulative_trial_balance_adds_up_the_periods_through_the_one_asked(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        customer_id = await _customer_id(erp)
        invoice = await erp.post_invoice(_invoice(customer_id))  # January
        await erp.post_journal_entry(_journal("je_2027_01", on=date(2027, 1, 31), amount="1250.00"))
        await erp.post_customer_payment(_payment(customer_id, invoice.internal_id, "20000.00"))  # February
        await erp.post_journal_entry(_journal("je_2027_02", on=date(2027, 2, 28), amount="1250.00"))
        await erp.post_journal_entry(_journal("je_2027_03", on=date(2027, 3, 31), amount="1250.00"))  # not counted

        january = await erp.accounting_period_for(JAN)
        february = await erp.accounting_period_for(FEB)
        through_january = await erp.cumulative_trial_balance(january)
        through_february = await erp.cumulative_trial_balance(february)
        january_activity = await erp.trial_balance(january)
        through_december_2026 = await erp.cumulative_trial_balance(await erp.accounting_period_for(date(2026, 12, 1)))

    assert through_january == {line.account_number: line.net for line in january_activity.lines}
    assert through_february == {
        "1000": Decimal("20000.00"),  # cash received
        "1100": Decimal("4000.00"),  # 24,000 billed less 20,000 paid
        "2400": Decimal("-12500.00"),  # 15,000 deferred less two months of 1,250 released
        "4000": Decimal("-9000.00"),
        "4100": Decimal("-2500.00"),
    }
    assert sum(through_february.values()) == 0
    assert list(through_february) == sorted(through_february)
    assert through_december_2026 == {}


async def test_a_journal_is_posted_in_the_currency_it_names(emulator: Emulator) -> None:
    async with emulator.erp() as erp:
        in_euros = await erp.post_journal_entry(_journal("je_eur", legal_entity="UK01", currency="EUR"))
        in_pounds = await erp.post_journal_entry(_journal("je_default", legal_entity="UK01"))
        with pytest.raises(PermanentAdapterError) as unknown:
            await erp.post_journal_entry(_journal("je_jpy", legal_entity="UK01", currency="JPY"))

    rows = await emulator.suiteql("SELECT externalid, currency FROM transaction WHERE type = 'Journal'")
    assert {row["externalid"]: row["currency"] for row in rows} == {
        "je_eur": emulator.ids.currencies["EUR"],
        "je_default": emulator.ids.currencies["GBP"],  # NetSuite's default: the subsidiary's currency
    }
    assert in_euros.total == in_pounds.total == Decimal("1250.00")
    assert unknown.value.category is ExceptionCategory.MASTER_DATA_MISMATCH


async def test_periods_are_closed_through_the_emulators_admin_surface_not_over_rest(emulator: Emulator) -> None:
    period_id = emulator.ids.periods["2027-05"]
    async with emulator.admin() as http:
        refused = await http.patch(f"/record/v1/accountingPeriod/{period_id}", json={"closed": True})
        created_closed = await http.post(
            "/record/v1/accountingPeriod",
            json={"periodName": "Feb 2028", "startDate": "2028-02-01", "endDate": "2028-02-29", "closed": True},
        )
        unchanged = await http.patch(f"/record/v1/accountingPeriod/{period_id}", json={"closed": False})
    assert refused.status_code == created_closed.status_code == 400
    assert refused.json()["o:errorDetails"][0]["o:errorPath"] == "closed"
    assert unchanged.status_code == 204  # restating the current value is no change

    closed = await close_period(emulator.base_url, "2027-05")
    again = await close_period(emulator.base_url, period_id)  # the internal ID names it too; closing twice is fine
    assert closed == again
    assert (closed.internal_id, closed.external_id, closed.name, closed.closed) == (
        period_id,
        "2027-05",
        "May 2027",
        True,
    )
    rows = await emulator.suiteql(f"SELECT closed FROM accountingperiod WHERE id = {period_id}")
    assert [row["closed"] for row in rows] == ["T"]
    async with emulator.admin() as http:
        record = (await http.get(f"/record/v1/accountingPeriod/{period_id}")).json()
    assert record["closed"] is True

    await emulator.close_period("2027-05", closed=False)
    rows = await emulator.suiteql(f"SELECT closed FROM accountingperiod WHERE id = {period_id}")
    assert [row["closed"] for row in rows] == ["F"]
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        await close_period(emulator.base_url, "2031-01")
    assert unknown.value.response.status_code == 404
