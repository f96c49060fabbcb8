"""Balances and journals: the reference year, month by month, and the journal rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from revenue.exchange import FixedRates, MissingRateError, Translation
from revenue.journal import ChartOfAccounts, EntryKind, JournalEntry, Posting, UnbalancedEntryError
from revenue.ledger import (
    BilledLine,
    CreditNote,
    Invoice,
    Ledger,
    Payment,
    close_period,
    post_credit_note,
    post_invoice,
    post_payment,
    post_revenue,
)
from tests.revenue.builders import obligation, usage_obligation, usd
from tests.revenue.reference import run_reference_year


def postings(entry: JournalEntry) -> list[tuple[str, str]]:
    return [(p.account, str(p.amount.amount)) for p in entry.postings]


def test_reference_year_end_without_the_amendment() -> None:
    """Everything fixed is billed and earned by 31 December; December's usage (1,900,000 calls: 1,800.00) is
    an unbilled receivable until the invoice of 1 January 2028; every invoice is paid 20 days after issue."""
    year = run_reference_year(amended=False)
    december = year.month_end_balances["2027-12"]

    assert (december.receivable, december.unbilled_receivable) == (usd(0), usd(1800))
    assert (december.contract_asset, december.contract_liability) == (usd(0), usd(0))
    assert december.cash == usd(132600)  # 123,000 fixed + 9,600 of usage billed January-November
    assert dict(december.revenue_by_account) == {"4000": usd("106956.52"), "4100": usd("16043.48"), "4200": usd(11400)}


def test_reference_year_month_ends() -> None:
    """January: 24,000 billed (platform + onboarding), 9,083.98 earned → a contract liability of 14,916.02.
    February: onboarding delivered (16,043.48 allocated, 15,000 billed) → revenue overtakes billing: a
    contract asset of 332.34. June: 82.19 of contract asset, May's usage invoiced, June's 200.00 unbilled."""
    balances = run_reference_year(amended=False).month_end_balances

    assert balances["2027-01"].contract_liability == usd("14916.02")
    assert (balances["2027-02"].contract_asset, balances["2027-02"].unbilled_receivable) == (usd("332.34"), usd(400))
    june = balances["2027-06"]
    assert (june.contract_asset, june.contract_liability, june.unbilled_receivable) == (usd("82.19"), usd(0), usd(200))
    assert dict(june.revenue_by_account)["4000"] == usd("53038.71")
    assert june.cash == usd(72400)


def test_reference_year_with_the_amendment() -> None:
    december = run_reference_year(amended=True).month_end_balances["2027-12"]

    assert dict(december.revenue_by_account)["4000"] == usd("143021.03")  # 107,658.73 + 25,258.79 + 10,103.51
    assert (december.contract_asset, december.contract_liability) == (usd(0), usd(0))
    assert december.cash == usd("168664.51")


def test_reference_journals() -> None:
    entries = run_reference_year(amended=False).entries
    january_invoice, january_payment, january_close, february_invoice = entries[:4]
    february_close, march_invoice = entries[5], entries[6]

    assert postings(january_invoice) == [("1100", "24000.00"), ("2400", "-24000.00")]
    assert postings(january_payment) == [("1000", "24000.00"), ("1100", "-24000.00")]
    assert postings(january_close) == [("2400", "9083.98"), ("4000", "-9083.98")]
    assert february_invoice.kind is EntryKind.INVOICE and february_close.kind is EntryKind.RECOGNITION
    # Revenue beyond the contract liability is a contract asset; usage is an unbilled receivable.
    assert postings(february_close) == [
        ("1200", "400.00"),
        ("1300", "332.34"),
        ("2400", "23916.02"),
        ("4000", "-8204.88"),
        ("4100", "-16043.48"),
        ("4200", "-400.00"),
    ]
    # Billing after revenue clears the contract asset first, and invoiced usage the unbilled receivable.
    assert postings(march_invoice) == [
        ("1100", "9400.00"),
        ("1200", "-400.00"),
        ("1300", "-332.34"),
        ("2400", "-8667.66"),
    ]
    assert all(entry.debits == entry.credits for entry in entries)


def test_closing_a_period_again_changes_nothing() -> None:
    year = run_reference_year(amended=True)

    for key in ("2027-06", "2027-12"):
        again, entries = close_period(year.ledger, year.schedules, key)
        assert entries == () and again.balances(again.contract_ids[0]) == year.ledger.balances(
            year.ledger.contract_ids[0]
        )


def test_an_unbalanced_entry_cannot_be_built() -> None:
    with pytest.raises(UnbalancedEntryError, match=r"debits 100\.00 USD != credits 99\.00 USD"):
        JournalEntry(
            "C1", date(2027, 1, 1), EntryKind.INVOICE, "", (Posting("1100", usd(100)), Posting("2400", usd(-99)))
        )
    with pytest.raises(UnbalancedEntryError, match="needs a debit and a credit"):
        JournalEntry("C1", date(2027, 1, 1), EntryKind.INVOICE, "", (Posting("1100", usd(0)),))


def test_a_credit_note_mirrors_an_invoice_and_a_payment_clears_the_receivable() -> None:
    service = obligation("S", consideration=1200, ssp=1)
    ledger = Ledger.open([service])
    ledger, _ = post_invoice(ledger, Invoice("I1", "C1", date(2027, 1, 1), (BilledLine("C1#S", usd(1200)),)))

    ledger, (credit,) = post_credit_note(
        ledger, CreditNote("CN1", "C1", date(2027, 1, 5), (BilledLine("C1#S", usd(200)),))
    )
    ledger, (paid,) = post_payment(ledger, Payment("P1", "C1", date(2027, 1, 20), usd(1000)))

    assert postings(credit) == [("1100", "-200.00"), ("2400", "200.00")]
    assert postings(paid) == [("1000", "1000.00"), ("1100", "-1000.00")]
    assert ledger.balances("C1").receivable == usd(0) and ledger.balances("C1").contract_liability == usd(1000)


def test_accounts_are_configurable() -> None:
    chart = ChartOfAccounts(receivable="11000", contract_liability="24500")
    ledger = Ledger.open([obligation("S", consideration=10, ssp=1)], chart=chart)

    _, (entry,) = post_invoice(ledger, Invoice("I1", "C1", date(2027, 1, 1), (BilledLine("C1#S", usd(10)),)))

    assert postings(entry) == [("11000", "10.00"), ("24500", "-10.00")]


def test_functional_currency_amounts_balance_too() -> None:
    """Three revenue lines of 0.01 at 0.5 EUR each would round to 0.01 EUR apiece (0.03) while the debit is
    0.02: the day's rate applies to the total, split by largest remainder, so the entry balances in EUR."""
    obligations = [obligation(n, ssp=1, revenue_account=f"40{n}") for n in ("1", "2", "3")]
    rates = Translation("EUR", FixedRates({("USD", "EUR"): Decimal("0.5")}))
    ledger = Ledger.open(obligations, translation=rates)

    _, (entry,) = post_revenue(ledger, "C1", date(2027, 1, 31), {o.obligation_id: usd("0.01") for o in obligations})

    functional = [p.functional for p in entry.postings]
    assert [str(f.amount) for f in functional if f is not None] == ["0.02", "-0.01", "-0.01", "0.00"]
    with pytest.raises(MissingRateError, match="no USD/GBP rate"):
        FixedRates().rate("USD", "GBP", date(2027, 1, 1))


def test_usage_billed_ahead_of_use_is_a_contract_liability() -> None:
    api = usage_obligation()
    ledger = Ledger.open([api])

    ledger, _ = post_invoice(ledger, Invoice("I1", "C1", date(2027, 1, 1), (BilledLine("C1#usage", usd(50)),)))

    assert ledger.balances("C1").contract_liability == usd(50)
    assert ledger.balances("C1").unbilled_receivable == usd(0)


def test_events_for_unknown_obligations_are_refused() -> None:
    ledger = Ledger.open([obligation("S", consideration=10, ssp=1)])

    with pytest.raises(ValueError, match="C2#S is not an obligation of contract C1"):
        post_invoice(ledger, Invoice("I1", "C1", date(2027, 1, 1), (BilledLine("C2#S", usd(10)),)))


def test_totals_add_contracts_each_netted_on_its_own() -> None:
    """ASC 606-10-45-1: one net position per contract; a liability of one contract never hides another's asset."""
    billed_ahead = obligation("S", consideration=100, ssp=1, contract_id="C1")
    earned_ahead = obligation("S", consideration=100, ssp=1, contract_id="C2")
    ledger = Ledger.open([billed_ahead, earned_ahead])
    ledger, _ = post_invoice(ledger, Invoice("I1", "C1", date(2027, 1, 1), (BilledLine("C1#S", usd(100)),)))
    ledger, _ = post_revenue(ledger, "C2", date(2027, 1, 31), {"C2#S": usd(40)})

    total = ledger.total_balances("USD")

    assert (total.contract_liability, total.contract_asset) == (usd(100), usd(40))
    assert (total.billed, total.revenue, total.receivable) == (usd(100), usd(40), usd(100))
