"""Reconciliation's set-based matching, on SQLite and PostgreSQL: nothing on clean data, each kind of break found,
and every break filed as an exception case for controllership."""

from __future__ import annotations

from datetime import date
from itertools import count

import pytest

from adapters.store import OperationalStore, OwnerRole
from adapters.store.reconciliation import ReconciliationStore
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.reconciliation import (
    AccountBalance,
    BillingRecord,
    BreakKind,
    DocumentSide,
    ErpRecord,
    LedgerSystem,
)

DAY = date(2027, 3, 1)
NEXT_DAY = date(2027, 3, 2)
_runs = count(1)


def billing(document_id: str, amount: int, *, day: date = DAY, currency: str = "USD", open_: int = 0) -> BillingRecord:
    side = DocumentSide.CREDIT_NOTE if amount < 0 else DocumentSide.INVOICE
    return BillingRecord(
        document_id=document_id,
        side=side,
        issued_on=day,
        legal_entity="US01",
        currency=currency,
        total_minor=amount,
        open_minor=open_,
    )


def erp_of(record: BillingRecord, internal_id: str, **changes: object) -> ErpRecord:
    values: dict[str, object] = {
        "internal_id": internal_id,
        "external_id": record.document_id,
        "side": record.side,
        "tran_date": record.issued_on,
        "legal_entity": record.legal_entity,
        "currency": record.currency,
        "total_minor": record.total_minor,
        "open_minor": record.open_minor,
    }
    return ErpRecord.model_validate(values | changes)


def books() -> tuple[list[BillingRecord], list[ErpRecord], list[AccountBalance]]:
    """A clean day and a half: invoices (one still open), a credit note, and agreeing balances."""
    documents = [
        billing("in_1", 900_000),
        billing("in_2", 1_500_000, open_=1_500_000),
        billing("cn_1", -100_000),
        billing("in_3", 250_000, day=NEXT_DAY),
    ]
    postings = [erp_of(d, str(100 + n)) for n, d in enumerate(documents)]
    balances = [
        AccountBalance(system=system, account=account, currency="USD", balance_minor=amount)
        for system in LedgerSystem
        for account, amount in (("1100", 1_500_000), ("2400", -2_550_000), ("4000", 0))
    ]
    return documents, postings, balances


async def reconcile(
    store: OperationalStore,
    documents: list[BillingRecord],
    postings: list[ErpRecord],
    balances: list[AccountBalance],
) -> tuple[ReconciliationStore, int]:
    recon = ReconciliationStore(store)
    run_id = await recon.start_run("reconciliation/test", f"run-{next(_runs)}", DAY, NEXT_DAY)
    await recon.stage_billing(run_id, documents)
    await recon.stage_erp(run_id, postings)
    await recon.stage_balances(run_id, balances)
    await recon.match(run_id)
    return recon, run_id


async def test_clean_books_have_no_breaks(store: OperationalStore) -> None:
    documents, postings, balances = books()

    recon, run_id = await reconcile(store, documents, postings, balances)

    run = await recon.run(run_id)
    assert run.clean
    assert (run.billing_documents, run.erp_postings, run.accounts) == (4, 4, 6)
    assert await recon.breaks(run_id) == []
    assert await recon.file_cases(run_id) == []
    assert await store.open_cases() == []


async def test_staging_again_replaces_what_was_staged(store: OperationalStore) -> None:
    documents, postings, balances = books()
    recon, run_id = await reconcile(store, documents, postings, balances)

    await recon.stage_billing(run_id, documents)
    await recon.stage_erp(run_id, postings)
    run = await recon.match(run_id)

    assert run.clean and run.billing_documents == 4


@pytest.mark.parametrize(
    ("kind", "subject", "billing_amount", "erp_amount"),
    [
        (BreakKind.MISSING_IN_ERP, "in_2", "15000.00 USD", None),
        (BreakKind.MISSING_IN_BILLING, "in_9", None, "42.00 USD"),
        (BreakKind.DUPLICATE_IN_ERP, "in_1", None, "18000.00 USD"),
        (BreakKind.AMOUNT_MISMATCH, "in_1", "9000.00 USD", "9000.01 USD"),
        (BreakKind.CURRENCY_MISMATCH, "in_1", "9000.00 USD", "9000.00 EUR"),
        (BreakKind.OPEN_AR_MISMATCH, "in_2", "15000.00 USD", "0.00 USD"),
        (BreakKind.BALANCE_MISMATCH, "2400/USD", "-25500.00 USD", "-25499.00 USD"),
    ],
)
async def test_each_kind_of_break_is_found_and_filed(
    store: OperationalStore, kind: BreakKind, subject: str, billing_amount: str | None, erp_amount: str | None
) -> None:
    documents, postings, balances = books()
    by_id = {p.external_id: p for p in postings}
    match kind:
        case BreakKind.MISSING_IN_ERP:
            postings.remove(by_id["in_2"])
        case BreakKind.MISSING_IN_BILLING:
            postings.append(erp_of(billing("in_9", 4200), "999"))
        case BreakKind.DUPLICATE_IN_ERP:
            postings.append(erp_of(documents[0], "998"))
        case BreakKind.AMOUNT_MISMATCH:
            postings[0] = erp_of(documents[0], "100", total_minor=900_001)
        case BreakKind.CURRENCY_MISMATCH:
            postings[0] = erp_of(documents[0], "100", currency="EUR")
        case BreakKind.OPEN_AR_MISMATCH:
            postings[1] = erp_of(documents[1], "101", open_minor=0)
        case BreakKind.BALANCE_MISMATCH:
            balances[1] = balances[1].model_copy(update={"balance_minor": -2_549_900})

    recon, run_id = await reconcile(store, documents, postings, balances)
    filed = await recon.file_cases(run_id)

    found = [b for b in filed if b.kind is kind]
    assert [(b.subject, str(b.billing) if b.billing else None, str(b.erp) if b.erp else None) for b in found] == [
        (subject, billing_amount, erp_amount)
    ]
    case = await store.case(found[0].case_id or 0)
    assert case.category is ExceptionCategory.RECONCILIATION_BREAK
    assert case.owner is OwnerRole.CONTROLLERSHIP
    assert case.workflow_id == f"reconciliation/{kind.value}/{subject}"
    assert case.description == found[0].description
    # Document-level breaks move the day's total too (except a currency-only or open-AR difference's own day).
    others = {b.kind for b in filed} - {kind}
    assert others <= {BreakKind.DAILY_TOTAL_MISMATCH}


async def test_daily_totals_per_day_entity_and_currency(store: OperationalStore) -> None:
    documents, postings, balances = books()
    # Posted under another external ID by hand: every document matches on neither side, and the day is off.
    postings[3] = erp_of(documents[3], "103", external_id="manual-1", total_minor=240_000)

    recon, run_id = await reconcile(store, documents, postings, balances)

    totals = [b for b in await recon.breaks(run_id) if b.kind is BreakKind.DAILY_TOTAL_MISMATCH]
    assert [(b.subject, b.billing, b.erp) for b in totals] == [
        ("2027-03-02/US01/USD", Money.of("2500.00", "USD"), Money.of("2400.00", "USD"))
    ]
    assert totals[0].amount_at_risk == Money.of("100.00", "USD")
    kinds = sorted(b.kind for b in await recon.breaks(run_id))
    assert kinds == [BreakKind.DAILY_TOTAL_MISMATCH, BreakKind.MISSING_IN_BILLING, BreakKind.MISSING_IN_ERP]


async def test_a_break_still_there_next_run_keeps_its_one_case(store: OperationalStore) -> None:
    documents, postings, balances = books()
    postings[0] = erp_of(documents[0], "100", total_minor=800_000)

    first, first_run = await reconcile(store, documents, postings, balances)
    second, second_run = await reconcile(store, documents, postings, balances)

    first_cases = {b.kind: b.case_id for b in await first.file_cases(first_run)}
    second_cases = {b.kind: b.case_id for b in await second.file_cases(second_run)}
    assert first_cases == second_cases
    assert len(await store.open_cases(category=ExceptionCategory.RECONCILIATION_BREAK)) == 2
    assert (await second.latest_run()) == await second.run(second_run)
