"""The revenue engine's modification port, persisted: the reference year's July expansion recorded through the
adapter books what the engine books directly, the treatment follows the amendment's facts, a version is recorded
once, a stale one is refused, and a modification is withdrawn only while nothing depends on it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.errors import NotFoundError, OutOfOrderError, PermanentAdapterError, TransientAdapterError
from adapters.ports import RevenueModificationPort
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.revenue_engine.event_log import RevenueEventLog
from canonical.amendment import ModificationFacts, ModificationOutcome
from canonical.billing_documents import DocumentKind
from canonical.money import Money, sum_money
from canonical.problems import ExceptionCategory
from revenue.allocation import allocate_transaction_price
from revenue.gl_postings import close_journals
from revenue.journal import EntryKind
from revenue.modifications import ContractModification, modify_contract
from revenue.modifications import ModificationFacts as RevenueFacts
from revenue.obligations import obligations_from_contract
from revenue.recognition import plan_contract
from tests.adapters.conftest import Database
from tests.adapters.revenue_amendment import (
    EFFECTIVE,
    MODIFICATION_KEY,
    PREMIUM,
    SEATS,
    amended,
    drive_expanded_year,
    expansion,
    upgrade_invoice,
)
from tests.adapters.revenue_reference import (
    SUBSCRIPTION,
    accounting_period,
    amounts,
    drive_reference_year,
    monthly_invoice,
)
from tests.revenue.reference import reference_contract, reference_modification, run_reference_year, usd

CONTRACT = reference_contract()
REGISTRATION = f"RC-{CONTRACT.contract_id}-v1"
PLATFORM_ID, SEATS_ID, PREMIUM_ID = (f"{CONTRACT.contract_id}#{n}" for n in (1, SEATS, PREMIUM))
AT_SSP = ModificationFacts(added_goods_distinct=True, priced_at_ssp=True, remaining_goods_distinct=True)
NOT_DISTINCT = ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=False)
JUNE_END = date(2027, 6, 30)


async def _event_count(database: Database) -> int:
    log = await RevenueEventLog.open(database.url, schema=database.schema)
    try:
        return len(await log.events_after(0))
    finally:
        await log.close()


async def test_the_july_expansion_through_the_adapter_books_what_the_engine_books_directly(
    database: Database, revenue_engine: BuiltInRevenueEngine
) -> None:
    direct = run_reference_year(amended=True)
    port: RevenueModificationPort = revenue_engine  # checked by mypy

    month_ends = await drive_expanded_year(revenue_engine)

    outcome = await port.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    assert outcome == ModificationOutcome(revenue_contract_id=REGISTRATION, treatment="prospective", catch_up=None)
    assert amounts(month_ends) == amounts(direct.month_end_balances)
    snapshot = await revenue_engine.snapshot()
    assert snapshot.entries == direct.entries  # invoices (the prorated one too), payments, closes: one for one
    planned = {s.obligation_id: s for s in snapshot.schedules}
    export = await revenue_engine.year_export(date(2027, 1, 1), date(2027, 12, 31))
    for period in direct.calendar.periods[:12]:
        for schedule in direct.schedules:
            assert planned[schedule.obligation_id].amount_in(period.key) == schedule.amount_in(period.key)
        month = sum_money((s.amount_in(period.key) for s in direct.schedules), "USD")
        assert export["revenue"]["month_totals"][period.key] == {"USD": str(month.amount)}
        close = await revenue_engine.period_close(period.key)
        assert close is not None
        booked = [e for e in direct.entries if e.kind is EntryKind.RECOGNITION and e.booked_on == period.end]
        erp_period = accounting_period(period.start)
        assert close.journals == close_journals(booked, {CONTRACT.contract_id: "US01"}, erp_period, period.key)
    july = export["revenue"]["by_month"]["2027-07"]
    # July: 17 of the 170 days from 15 July of what the new lines were allocated (25,258.79 and 10,103.51)
    assert (july[SEATS_ID], july[PREMIUM_ID]) == ("2525.88", "1010.35")
    registered = revenue_engine.contracts[REGISTRATION]
    assert (registered.version, registered.contract) == (2, amended(expansion()))
    assert [o.line_no for o in registered.obligations] == [1, 2, 3, SEATS, PREMIUM]
    on_record = await port.contract_on_record(CONTRACT.contract_id)
    assert (on_record.contract, on_record.revenue_contract_id, on_record.billing_subscription_id) == (
        amended(expansion()),
        REGISTRATION,
        SUBSCRIPTION,
    )
    with pytest.raises(NotFoundError):
        await port.contract_on_record("CTR-UNKNOWN")
    total = dict((await revenue_engine.total_balances("USD")).revenue_by_account)
    assert total == dict(direct.ledger.total_balances("USD").revenue_by_account)
    assert total["4000"] == usd("143021.03")  # 106,956.52 + 24,967.74 + 11,096.77: all of it by year end
    await revenue_engine.aclose()
    async with BuiltInRevenueEngine(database.url, schema=database.schema) as reopened:  # folded from the events
        assert reopened.contracts[REGISTRATION] == registered
        assert (await reopened.snapshot()).entries == direct.entries


async def test_added_lines_priced_at_their_ssp_are_a_separate_contract(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await drive_reference_year(revenue_engine, through=JUNE_END)
    before = {s.obligation_id: s for s in (await revenue_engine.snapshot()).schedules}

    outcome = await revenue_engine.record_modification(amended(expansion(AT_SSP)), expansion(AT_SSP), "m/ssp")

    assert (outcome.treatment, outcome.catch_up) == ("separate_contract", None)
    allocation = revenue_engine.contracts[REGISTRATION].allocation
    # The original contract stands as it was; the added lines share their own price, 36,064.51, by SSP.
    assert allocation.amount_for(PLATFORM_ID) == usd("106956.52")
    assert (allocation.amount_for(SEATS_ID), allocation.amount_for(PREMIUM_ID)) == (usd("25760.37"), usd("10304.14"))
    after = {s.obligation_id: s for s in (await revenue_engine.snapshot()).schedules}
    assert after[PLATFORM_ID] == before[PLATFORM_ID]


async def test_remaining_goods_not_distinct_are_caught_up_cumulatively_by_the_close_that_reaches_them(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    obligations = obligations_from_contract(CONTRACT)
    plans = plan_contract(allocate_transaction_price(obligations))
    facts = RevenueFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=False)
    change = reference_modification(obligations)
    expected = modify_contract(obligations, plans, ContractModification(change.effective, facts, change.added))
    caught_up = sum_money((c.amount for c in expected.catch_ups), "USD")

    month_ends = await drive_expanded_year(revenue_engine, expansion(NOT_DISTINCT))
    outcome = await revenue_engine.record_modification(
        amended(expansion(NOT_DISTINCT)), expansion(NOT_DISTINCT), MODIFICATION_KEY
    )

    assert outcome.treatment == "cumulative_catch_up"
    assert outcome.catch_up == caught_up == usd("672.06")  # platform 524.73 and onboarding 147.33 on 15 July
    july = await revenue_engine.period_close("2027-07")
    assert july is not None
    [catch_up] = [entry for entry in july.entries if entry.kind is EntryKind.CATCH_UP]
    assert catch_up.booked_on == EFFECTIVE.date()
    assert sum_money((p.amount for p in catch_up.postings if p.account.startswith("4")), "USD") == -caught_up
    in_july = month_ends["2027-07"].recognised - month_ends["2027-06"].recognised
    assert sum_money(july.recognised.values(), "USD") == in_july
    # The ERP's July journal carries the catch-up with the month's revenue, so its ledger stays the engine's.
    revenue_lines = [line for journal in july.journals for line in journal.lines if line.account.startswith("4")]
    credited = sum(((line.credit or Decimal(0)) - (line.debit or Decimal(0)) for line in revenue_lines), Decimal(0))
    assert Money.of(credited, "USD") == in_july
    # By the year's end all of version 2's price is revenue, as with the prospective treatment, only sooner.
    direct = run_reference_year(amended=True)
    assert month_ends["2027-12"].recognised == direct.month_end_balances["2027-12"].recognised == usd("170464.51")


async def test_the_same_version_again_under_any_key_changes_nothing(
    database: Database, revenue_engine: BuiltInRevenueEngine
) -> None:
    await drive_reference_year(revenue_engine, through=JUNE_END)
    first = await revenue_engine.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    events = await _event_count(database)
    registered = revenue_engine.contracts[REGISTRATION]

    again = await revenue_engine.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    other_key = await revenue_engine.record_modification(amended(expansion()), expansion(), "amendment/retry")

    assert first == again == other_key
    assert await _event_count(database) == events
    assert revenue_engine.contracts[REGISTRATION] == registered
    assert await revenue_engine.withdraw_modification_recorded_by("amendment/retry") is None  # it recorded nothing


async def test_a_stale_unknown_or_closed_modification_is_refused(revenue_engine: BuiltInRevenueEngine) -> None:
    with pytest.raises(PermanentAdapterError) as unknown:
        await revenue_engine.record_modification(amended(expansion()), expansion(), "m/unknown")
    await drive_reference_year(revenue_engine, through=JUNE_END)
    await revenue_engine.lock_period(accounting_period(date(2027, 6, 1)), "lock/2027-06")
    backdated = expansion().model_copy(update={"effective": EFFECTIVE.replace(month=6)})
    with pytest.raises(PermanentAdapterError) as closed:
        await revenue_engine.record_modification(amended(backdated), backdated, "m/backdated")
    await revenue_engine.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    # Another amendment made against version 1, which version 2 has replaced.
    rival = expansion(amendment_id="006NW0000000009")
    with pytest.raises(PermanentAdapterError) as stale:
        await revenue_engine.record_modification(amended(rival), rival, "m/rival")
    # Version 3 of a contract the engine has at version 2, skipping nothing: fine; skipping version 3: refused.
    version_3 = amended(expansion(amendment_id="006NW0000000010", version=2), amended(expansion()))
    skipped = version_3.model_copy(update={"version": 4})
    with pytest.raises(PermanentAdapterError) as skipping:
        await revenue_engine.record_modification(skipped, expansion(amendment_id="006NW0000000010", version=3), "m/4")

    assert unknown.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert closed.value.category is ExceptionCategory.CLOSED_PERIOD and "2027-06" in str(closed.value)
    assert stale.value.category is ExceptionCategory.MISSING_AMENDMENT_REFERENCE
    assert "006NW0000000009" in str(stale.value) and "version 2" in str(stale.value)
    assert skipping.value.category is ExceptionCategory.MISSING_AMENDMENT_REFERENCE
    assert revenue_engine.contracts[REGISTRATION].version == 2
    third = await revenue_engine.record_modification(
        version_3, expansion(amendment_id="006NW0000000010", version=2), "m/3"
    )
    assert third.treatment == "prospective" and revenue_engine.contracts[REGISTRATION].version == 3


async def test_withdrawing_restores_the_previous_version_and_a_new_key_can_record_it_again(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await drive_reference_year(revenue_engine, through=JUNE_END)
    before = await revenue_engine.snapshot(), revenue_engine.contracts[REGISTRATION]
    await revenue_engine.record_modification(amended(expansion()), expansion(), "amendment/first")

    withdrawn = [await revenue_engine.withdraw_modification_recorded_by("amendment/first") for _ in range(2)]

    assert withdrawn == [REGISTRATION] * 2
    snapshot, registered = await revenue_engine.snapshot(), revenue_engine.contracts[REGISTRATION]
    assert registered == before[1] and registered.version == 1
    assert snapshot.schedules == before[0].schedules and snapshot.ledger == before[0].ledger
    # Its invoice now bills lines v1 does not have: it waits for an amendment, and parks if none comes.
    with pytest.raises(OutOfOrderError) as unknown_line:
        await revenue_engine.record_billing(upgrade_invoice(CONTRACT), accounting_period(date(2027, 7, 1)), "inv")
    assert unknown_line.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    # The amendment saga runs again under a new key: version 2 is recorded anew, and the year books as directly.
    again = await revenue_engine.record_modification(amended(expansion()), expansion(), "amendment/second")
    assert again.treatment == "prospective" and revenue_engine.contracts[REGISTRATION].version == 2


async def test_a_billed_modification_is_withdrawn_only_once_billing_credited_it_back_in_full(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await drive_reference_year(revenue_engine, through=JUNE_END)
    before = await revenue_engine.balances_by_account()
    await revenue_engine.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    july = accounting_period(date(2027, 7, 1))
    upgrade = upgrade_invoice(CONTRACT)
    await revenue_engine.record_billing(upgrade, july, "inv/up")

    # Billed and not credited back: the saga's compensation waits (a transient error) for the reversing credit note.
    with pytest.raises(TransientAdapterError) as billed:
        await revenue_engine.withdraw_modification_recorded_by(MODIFICATION_KEY)
    assert "INV-20270715" in str(billed.value) and "version 2" in str(billed.value)
    assert revenue_engine.contracts[REGISTRATION].version == 2

    reversal = upgrade.model_copy(
        update={"document_id": "CN-20270715", "kind": DocumentKind.CREDIT_NOTE, "applies_to": upgrade.document_id}
    )
    await revenue_engine.record_billing(reversal, july, "cn/up")
    assert await revenue_engine.withdraw_modification_recorded_by(MODIFICATION_KEY) == REGISTRATION
    assert revenue_engine.contracts[REGISTRATION].version == 1
    assert await revenue_engine.balances_by_account() == before  # the invoice and its reversal net to nothing


async def test_a_withdrawal_is_refused_once_a_close_recognised_the_modified_terms(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await drive_reference_year(revenue_engine, through=JUNE_END)
    await revenue_engine.record_modification(amended(expansion()), expansion(), MODIFICATION_KEY)
    july = accounting_period(date(2027, 7, 1))
    await revenue_engine.record_billing(monthly_invoice(CONTRACT, july.start), july, "invoice/2027-07")
    await revenue_engine.recognise_period(july, (), "close/2027-07")

    with pytest.raises(PermanentAdapterError) as recognised:
        await revenue_engine.withdraw_modification_recorded_by(MODIFICATION_KEY)

    assert recognised.value.category is ExceptionCategory.SYSTEM_REJECTED and "2027-07" in str(recognised.value)
    assert revenue_engine.contracts[REGISTRATION].version == 2
