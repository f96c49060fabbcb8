"""The revenue engine's ledger port, persisted: the reference year through the adapter gives what the engine gives
when driven directly, every method is idempotent, and the state lives in the database, not in the instance."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

import pytest

from adapters.errors import OutOfOrderError, PermanentAdapterError
from adapters.ports import RevenueLedgerPort, RevenuePort
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.revenue_engine.event_log import EventConflict, RevenueEventLog, StoredEvent
from adapters.revenue_engine.events import RevenueEvent
from canonical.billing_documents import DocumentKind, UsageLine
from canonical.general_ledger import JournalEntryPosting, JournalLine
from canonical.problems import ExceptionCategory
from revenue.journal import JournalEntry
from revenue.ledger import ContractBalances
from revenue.reports import deferred_revenue_rollforward, revenue_waterfall
from tests.adapters.conftest import Database
from tests.adapters.revenue_reference import (
    API,
    PLATFORM,
    SUBSCRIPTION,
    accounting_period,
    amounts,
    drive_reference_year,
    invoice,
    line,
    metered,
    month_end,
    monthly_invoice,
    payment_of,
    reference_contract,
    usage_line,
)
from tests.revenue.reference import run_reference_year, usd

T = TypeVar("T")
# What the ledger methods return, and the books after them.
Outcomes = tuple[
    JournalEntryPosting | None,
    tuple[JournalEntryPosting, ...],
    JournalEntryPosting | None,
    tuple[tuple[JournalEntry, ...], ContractBalances],
]
CONTRACT = reference_contract()
JAN, FEB, MAR = date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)


async def _registered(engine: BuiltInRevenueEngine) -> None:
    await engine.register_contract(CONTRACT, SUBSCRIPTION, "closed-won/reference/revenue_contract")


async def test_the_reference_year_through_the_adapter_books_what_the_engine_books_directly(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    direct = run_reference_year(amended=False)
    ledger_port: RevenueLedgerPort = revenue_engine  # both revenue ports, checked by mypy
    contract_port: RevenuePort = revenue_engine

    month_ends = await drive_reference_year(revenue_engine)

    assert amounts(month_ends) == amounts(direct.month_end_balances)
    assert len(await ledger_port.usage_lines(JAN, date(2027, 12, 31))) == 1
    assert await contract_port.withdraw_contract_registered_by("closed-won/nobody/revenue_contract") is None
    snapshot = await revenue_engine.snapshot()
    assert snapshot.entries == direct.entries
    assert snapshot.ledger.balances(CONTRACT.contract_id) == direct.ledger.balances(CONTRACT.contract_id)
    planned = {s.obligation_id: s for s in snapshot.schedules}
    for schedule in direct.schedules:
        for period in direct.calendar.periods[:12]:
            assert planned[schedule.obligation_id].amount_in(period.key) == schedule.amount_in(period.key)
    total = await revenue_engine.total_balances("USD")
    revenue = {"4000": usd("106956.52"), "4100": usd("16043.48"), "4200": usd("11400.00")}
    assert dict(total.revenue_by_account) == revenue == dict(direct.ledger.total_balances("USD").revenue_by_account)


async def test_every_method_returns_what_it_stored_under_a_repeated_key_and_changes_nothing(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    january, february = monthly_invoice(CONTRACT, JAN), monthly_invoice(CONTRACT, FEB)
    january_close, february_close = accounting_period(JAN), accounting_period(FEB)

    async def calls(suffix: str, january_calls: int) -> Outcomes:
        """Every ledger method once, under keys ending in `suffix`, with `january_calls` metered for January."""
        january_reclass = await revenue_engine.record_billing(january, january_close, f"invoice/jan{suffix}")
        await revenue_engine.record_payment(payment_of(january), f"payment/jan{suffix}")
        usage = (metered(CONTRACT, JAN, january_calls),)
        journals = await revenue_engine.recognise_period(january_close, usage, f"close/jan{suffix}")
        await revenue_engine.lock_period(january_close, f"lock/jan{suffix}")
        february_reclass = await revenue_engine.record_billing(february, february_close, f"invoice/feb{suffix}")
        books = (await revenue_engine.snapshot()).entries, await revenue_engine.balances(CONTRACT.contract_id)
        return january_reclass, journals, february_reclass, books

    first = await calls("", 800_000)
    again = await calls("", 5_000_000)  # the same keys: the stored outcomes, the new usage never looked at
    # The same document, payment, close and lock under new keys: the first one's outcome, nothing booked twice.
    other_keys = await calls("/retry", 5_000_000)

    assert first == again == other_keys
    _, journals, _, (entries, balances) = first
    assert journals[0].external_id == "q2c-close-2027-01-US01-USD"
    assert len(entries) == 4  # two invoices, a payment, a close
    assert balances.billed == usd("33000.00") and balances.cash == usd("24000.00")
    assert balances.unbilled_receivable == usd("0.00")  # January's 800,000 calls, not 5,000,000


async def test_a_new_instance_on_the_same_database_has_everything_and_keeps_every_outcome(
    database: Database, revenue_engine: BuiltInRevenueEngine
) -> None:
    await drive_reference_year(revenue_engine, through=date(2027, 6, 30))
    export = await revenue_engine.year_export(JAN, date(2027, 12, 31))
    closes = await revenue_engine.recognise_period(accounting_period(date(2027, 3, 1)), (), "close/2027-03")
    await revenue_engine.aclose()

    async with BuiltInRevenueEngine(database.url, schema=database.schema) as reopened:
        assert set(reopened.contracts) == {f"RC-{CONTRACT.contract_id}-v1"}
        assert await reopened.year_export(JAN, date(2027, 12, 31)) == export
        assert await reopened.recognise_period(accounting_period(date(2027, 3, 1)), (), "close/2027-03") == closes
        assert await reopened.withdraw_contract_registered_by("closed-won/other/revenue_contract") is None
        # and it carries on where the first one stopped
        await reopened.record_billing(
            monthly_invoice(CONTRACT, date(2027, 7, 1)), accounting_period(date(2027, 7, 1)), "k"
        )
        # seven months of seats, the onboarding, January to June's usage (0 + 400 + 1,000 + 0 + 2,000 + 200)
        assert (await reopened.balances(CONTRACT.contract_id)).billed == usd("81600.00")


class Race:
    """Makes two workers race for real: each reads the log, then waits for the other to have read it too, so
    both decide on the same state and the second append collides. Counts the appends that lost."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lost = 0
        self._barrier: asyncio.Barrier | None = None
        self._waited: set[int] = set()
        read, append = RevenueEventLog.events_after, RevenueEventLog.append

        async def read_together(log: RevenueEventLog, after: int) -> list[StoredEvent]:
            found = await read(log, after)
            if self._barrier is not None and id(log) not in self._waited:
                self._waited.add(id(log))
                await self._barrier.wait()
            return found

        async def counted(log: RevenueEventLog, after: int, new: Sequence[RevenueEvent]) -> None:
            try:
                await append(log, after, new)
            except EventConflict:
                self.lost += 1
                raise

        monkeypatch.setattr(RevenueEventLog, "events_after", read_together)
        monkeypatch.setattr(RevenueEventLog, "append", counted)

    async def run(self, *calls: Awaitable[T]) -> list[T]:
        self._barrier, self._waited = asyncio.Barrier(len(calls)), set()
        try:
            return await asyncio.gather(*calls)
        finally:
            self._barrier = None


async def test_two_instances_on_one_database_see_each_others_events_and_race_safely(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    race = Race(monkeypatch)
    async with (
        BuiltInRevenueEngine(database.url, schema=database.schema) as one,
        BuiltInRevenueEngine(database.url, schema=database.schema) as two,
    ):
        await _registered(one)
        january = monthly_invoice(CONTRACT, JAN)
        assert await two.record_billing(january, accounting_period(JAN), "invoice/jan") is None
        assert set(two.contracts) == set(one.contracts)

        # Both record at once: one loses the append race, reads the other's event and decides again.
        documents = [monthly_invoice(CONTRACT, FEB), monthly_invoice(CONTRACT, MAR)]
        await race.run(
            one.record_billing(documents[0], accounting_period(FEB), "invoice/feb"),
            two.record_billing(documents[1], accounting_period(MAR), "invoice/mar"),
        )
        assert race.lost == 1
        # The same close asked of both at once, under different keys: recognised once, the same journals.
        closes = await race.run(
            one.recognise_period(accounting_period(JAN), (metered(CONTRACT, JAN),), "close/jan/one"),
            two.recognise_period(accounting_period(JAN), (metered(CONTRACT, JAN),), "close/jan/two"),
        )
        assert race.lost == 2

        assert closes[0] == closes[1] and len(closes[0]) == 1
        assert await one.balances(CONTRACT.contract_id) == await two.balances(CONTRACT.contract_id)
        assert (await two.balances(CONTRACT.contract_id)).billed == usd("42400.00")  # 3 x 9000 + 15000 + Feb usage
        entries = (await one.snapshot()).entries
        assert entries == (await two.snapshot()).entries
        assert [e.kind for e in entries] == ["invoice", "invoice", "invoice", "recognition"]
        async with BuiltInRevenueEngine(database.url, schema=database.schema) as three:  # a rebuild agrees
            assert (await three.snapshot()).entries == entries


async def test_a_usage_invoice_after_its_month_was_recognised_moves_the_unbilled_receivable(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    january = await revenue_engine.record_billing(monthly_invoice(CONTRACT, JAN), accounting_period(JAN), "i/jan")
    # 1,300,000 calls in January: 300,000 over the allowance, 600.00 of usage revenue and unbilled receivable.
    await revenue_engine.recognise_period(accounting_period(JAN), (metered(CONTRACT, JAN, 1_300_000),), "c/jan")
    usage = line(CONTRACT, API, usd("600.00"), JAN, month_end(JAN), 1_300_000)

    reclass = await revenue_engine.record_billing(
        invoice(CONTRACT, FEB, (usage,), "in_usage_jan"), accounting_period(FEB), "i/u"
    )

    assert january is None  # a plain invoice in advance: the ERP's booking is the engine's
    assert reclass is not None
    assert reclass.external_id == "q2c-reclass-in_usage_jan"
    assert (reclass.legal_entity, reclass.currency, reclass.tran_date) == ("US01", "USD", FEB)
    assert reclass.posting_period_id == "AP202702"
    assert "in_usage_jan" in reclass.memo
    assert [(x.account, x.debit, x.credit) for x in reclass.lines] == [
        ("1200", None, Decimal("600.00")),
        ("2400", Decimal("600.00"), None),
    ]
    assert (await revenue_engine.balances(CONTRACT.contract_id)).unbilled_receivable == usd("0.00")


async def test_the_reference_march_invoice_settles_the_unbilled_usage_and_the_contract_asset(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    """February's close recognised the onboarding milestone ahead of billing: a contract asset, which March's
    seats reduce first, as February's usage reduces the unbilled receivable."""
    february_end = run_reference_year(amended=False).month_end_balances["2027-02"]
    await drive_reference_year(revenue_engine, through=date(2027, 2, 28))

    reclass = await revenue_engine.record_billing(monthly_invoice(CONTRACT, MAR), accounting_period(MAR), "i/mar")

    assert reclass is not None and reclass.external_id == "q2c-reclass-INV-20270301"
    assert february_end.unbilled_receivable == usd("400.00") and february_end.contract_asset == usd("332.34")
    assert [(x.account, x.debit, x.credit) for x in reclass.lines] == [
        ("1200", None, february_end.unbilled_receivable.amount),
        ("1300", None, february_end.contract_asset.amount),
        ("2400", (february_end.unbilled_receivable + february_end.contract_asset).amount, None),
    ]


async def test_usage_billed_before_its_close_is_charged_as_billed_and_the_meter_does_not_override_it(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    await revenue_engine.record_billing(monthly_invoice(CONTRACT, FEB), accounting_period(FEB), "i/feb")
    # The February usage invoice arrives before February is recognised, and bills 410.00 rather than 400.00.
    billed = line(CONTRACT, API, usd("410.00"), FEB, month_end(FEB), 1_205_000)
    reclass = await revenue_engine.record_billing(
        invoice(CONTRACT, FEB, (billed,), "in_usage_feb"), accounting_period(FEB), "i/u"
    )

    journals = await revenue_engine.recognise_period(accounting_period(FEB), (metered(CONTRACT, FEB),), "c/feb")

    assert reclass is None  # billed ahead of its revenue: deferred, as the ERP books it
    usage_revenue = [x for x in journals[0].lines if x.account == "4200"]
    assert usage_revenue == [JournalLine(account="4200", credit=Decimal("410.00"), memo=usage_revenue[0].memo)]
    export = await revenue_engine.year_export(JAN, date(2027, 12, 31))
    assert export["revenue"]["by_month"]["2027-02"][f"{CONTRACT.contract_id}#{API}"] == "410.00"


async def test_a_close_sums_contracts_per_legal_entity_and_keeps_each_contracts_entry(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    customer = CONTRACT.customer.model_copy(update={"legal_entity": "CA01"})
    second = CONTRACT.model_copy(update={"contract_id": "CTR-006NW0000000009", "customer": customer})  # same deal
    await _registered(revenue_engine)
    await revenue_engine.register_contract(second, "sub_2", "closed-won/second/revenue_contract")
    for contract in (CONTRACT, second):
        await revenue_engine.record_billing(
            monthly_invoice(contract, JAN).model_copy(update={"document_id": f"INV-{contract.contract_id}"}),
            accounting_period(JAN),
            f"i/{contract.contract_id}",
        )

    journals = await revenue_engine.recognise_period(
        accounting_period(JAN), (metered(CONTRACT, JAN), metered(second, JAN)), "close/jan"
    )
    close = await revenue_engine.period_close("2027-01")

    assert [j.external_id for j in journals] == ["q2c-close-2027-01-CA01-USD", "q2c-close-2027-01-US01-USD"]
    assert journals[0].lines == journals[1].lines  # same deal, same revenue
    assert {(x.account, x.debit, x.credit) for x in journals[1].lines} == {
        ("2400", Decimal("9083.98"), None),  # 106,956.52 x 31 / 365, rounded
        ("4000", None, Decimal("9083.98")),
    }
    assert journals[1].tran_date == date(2027, 1, 31) and journals[1].posting_period_id == "AP202701"
    assert close is not None and close == await revenue_engine.period_close(accounting_period(JAN))
    assert {e.contract_id for e in close.entries} == {CONTRACT.contract_id, second.contract_id}
    assert close.entries_of(second.contract_id)[0].postings == close.entries_of(CONTRACT.contract_id)[0].postings
    assert await revenue_engine.period_close("2027-02") is None


async def test_a_locked_period_refuses_recognition_and_billing_but_a_recognised_one_answers_again(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    journals = await revenue_engine.recognise_period(accounting_period(JAN), (metered(CONTRACT, JAN),), "c/jan")
    await revenue_engine.lock_period(accounting_period(JAN), "l/jan")
    await revenue_engine.lock_period(accounting_period(FEB), "l/feb")

    with pytest.raises(PermanentAdapterError) as refused:
        await revenue_engine.recognise_period(accounting_period(FEB), (metered(CONTRACT, FEB),), "c/feb")
    with pytest.raises(PermanentAdapterError) as billing_refused:
        await revenue_engine.record_billing(monthly_invoice(CONTRACT, FEB), accounting_period(FEB), "i/feb")

    assert refused.value.category is ExceptionCategory.CLOSED_PERIOD and "2027-02" in str(refused.value)
    assert billing_refused.value.category is ExceptionCategory.CLOSED_PERIOD
    assert await revenue_engine.recognise_period(accounting_period(JAN), (), "c/jan/again") == journals
    # Nothing of the refused calls stuck: not February's metered usage, not the invoice.
    export = await revenue_engine.year_export(JAN, date(2027, 12, 31))
    assert export["documents"] == [] and list(export["revenue"]["by_month"]) == ["2027-01"]
    # The invoice dated in the locked February is booked in March, the next open period. January's revenue came
    # before any billing (a contract asset): the engine takes the invoice against the asset, where the ERP defers it.
    late = await revenue_engine.record_billing(monthly_invoice(CONTRACT, FEB), accounting_period(MAR), "i/feb")
    assert late is not None and late.tran_date == MAR and late.posting_period_id == "AP202703"
    assert [(x.account, x.debit, x.credit) for x in late.lines] == [
        ("1300", None, Decimal("9000.00")),
        ("2400", Decimal("9000.00"), None),
    ]
    assert (await revenue_engine.year_export(JAN, date(2027, 12, 31)))["documents"][0]["booked_on"] == "2027-03-01"


async def test_a_document_for_an_unknown_contract_or_line_is_a_master_data_problem_naming_it(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    stranger = CONTRACT.model_copy(update={"contract_id": "CTR-UNKNOWN"})
    no_such_line = line(CONTRACT, PLATFORM, usd("10.00"), JAN, month_end(JAN)).model_copy(
        update={"line_no": 7, "line_id": "il_7"}
    )

    with pytest.raises(OutOfOrderError) as unknown_contract:  # closed-won may register it next: it waits, then parks
        await revenue_engine.record_billing(monthly_invoice(stranger, JAN), accounting_period(JAN), "k1")
    with pytest.raises(OutOfOrderError) as unknown_line:  # line 7 may come with an amendment: it waits, then parks
        await revenue_engine.record_billing(
            invoice(CONTRACT, JAN, (no_such_line,), "in_7"), accounting_period(JAN), "k2"
        )
    with pytest.raises(PermanentAdapterError) as unknown_usage:
        await revenue_engine.recognise_period(accounting_period(JAN), (metered(stranger, JAN),), "k3")

    assert unknown_contract.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "INV-20270101" in str(unknown_contract.value) and "CTR-UNKNOWN" in str(unknown_contract.value)
    assert unknown_line.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert "in_7" in str(unknown_line.value) and "il_7" in str(unknown_line.value)
    assert unknown_usage.value.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert (await revenue_engine.balances(CONTRACT.contract_id)).billed == usd("0.00")


async def test_usage_lines_are_those_of_active_contracts_serving_in_the_window(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await _registered(revenue_engine)
    withdrawn = CONTRACT.model_copy(update={"contract_id": "CTR-WITHDRAWN"})
    await revenue_engine.register_contract(withdrawn, "sub_w", "closed-won/withdrawn/revenue_contract")
    await revenue_engine.withdraw_contract_registered_by("closed-won/withdrawn/revenue_contract")

    inside = await revenue_engine.usage_lines(date(2027, 12, 1), date(2028, 1, 31))
    outside = await revenue_engine.usage_lines(date(2028, 1, 1), date(2028, 1, 31))

    assert inside == (UsageLine(contract_id=CONTRACT.contract_id, line_no=API, subscription_id=SUBSCRIPTION),)
    assert outside == ()


async def test_the_year_export_adds_up(revenue_engine: BuiltInRevenueEngine) -> None:
    await drive_reference_year(revenue_engine)
    # December's usage is invoiced on 1 January 2028: recorded, but not in 2027's books.
    december = invoice(CONTRACT, date(2028, 1, 1), (usage_line(CONTRACT, date(2027, 12, 1)),))
    await revenue_engine.record_billing(december, accounting_period(date(2028, 1, 1)), "invoice/2028-01")

    export = await revenue_engine.year_export(JAN, date(2027, 12, 31))

    revenue = export["revenue"]
    by_month = [Decimal(amount) for month in revenue["by_month"].values() for amount in month.values()]
    assert list(revenue["by_month"]) == [f"2027-{m:02d}" for m in range(1, 13)]
    assert sum(by_month) == Decimal(revenue["total"]["USD"]) == Decimal("134400.00")
    assert sum(Decimal(t["USD"]) for t in revenue["month_totals"].values()) == Decimal(revenue["total"]["USD"])
    assert len(export["documents"]) == 12 and export["documents"][0]["kind"] == DocumentKind.INVOICE.value
    billed = sum(Decimal(d["total"]) for d in export["documents"])
    assert billed == Decimal(export["billed"]["USD"]) == Decimal("134400.00") - Decimal("1800.00")
    contract = export["year_end"]["contracts"][CONTRACT.contract_id]
    position = (
        Decimal(contract["contract_liability"])
        - Decimal(contract["contract_asset"])
        - Decimal(contract["unbilled_receivable"])
    )
    assert billed - Decimal(revenue["total"]["USD"]) == position
    assert Decimal(contract["unbilled_receivable"]) == Decimal("1800.00")  # December's usage, billed in January
    assert Decimal(contract["billed"]) - Decimal(contract["recognised"]) == position
    accounts = export["year_end"]["balances_by_account"]["USD"]
    assert sum(Decimal(amount) for amount in accounts.values()) == 0
    assert accounts["1200"] == "1800.00" and accounts["1100"] == "0.00"
    assert export["documents"][0]["lines"][0] == {
        "line_id": "il_1_202701",
        "obligation_id": f"{CONTRACT.contract_id}#{PLATFORM}",
        "product_code": "PLAT-SEAT",
        "service_start": "2027-01-01",
        "service_end": "2027-01-31",
        "amount": "9000.00",
    }
    # Now, with January 2028's invoice: the unbilled receivable is billed; per account, debit positive.
    now = await revenue_engine.balances_by_account()
    assert now["1200"] == Decimal("0.00") and now["1100"] == Decimal("1800.00")
    assert now["4000"] == Decimal("-106956.52") and now["4100"] == Decimal("-16043.48")
    assert now["4200"] == Decimal("-11400.00") and sum(now.values()) == 0
    assert set(now) == {"1000", "1100", "1200", "1300", "2400", "4000", "4100", "4200"}


async def test_a_credit_note_in_a_contract_asset_position_grows_the_asset_where_the_erp_reduces_deferral(
    revenue_engine: BuiltInRevenueEngine,
) -> None:
    await drive_reference_year(revenue_engine, through=date(2027, 2, 28))  # February ends in a contract asset
    asset_before = (await revenue_engine.balances(CONTRACT.contract_id)).contract_asset
    credited = line(CONTRACT, PLATFORM, usd("100.00"), FEB, month_end(FEB))
    note = invoice(CONTRACT, date(2027, 3, 2), (credited,), "cn_1").model_copy(
        update={"kind": DocumentKind.CREDIT_NOTE, "applies_to": "INV-20270201"}
    )

    reclass = await revenue_engine.record_billing(note, accounting_period(MAR), "credit/cn_1")

    assert reclass is not None and reclass.external_id == "q2c-reclass-cn_1"
    assert [(x.account, x.debit, x.credit) for x in reclass.lines] == [
        ("1300", Decimal("100.00"), None),
        ("2400", None, Decimal("100.00")),
    ]
    balances = await revenue_engine.balances(CONTRACT.contract_id)
    assert balances.contract_asset == asset_before + usd("100.00")
    assert balances.billed == usd("33000.00") - usd("100.00")
    exported = (await revenue_engine.year_export(JAN, date(2027, 12, 31)))["documents"][-1]
    assert (exported["kind"], exported["total"], exported["booked_on"]) == ("credit_note", "100.00", "2027-03-02")


async def test_the_snapshot_feeds_the_revenue_reports(revenue_engine: BuiltInRevenueEngine) -> None:
    await drive_reference_year(revenue_engine)

    snapshot = await revenue_engine.snapshot()
    waterfall = revenue_waterfall(snapshot.schedules, snapshot.calendar, "2027-01", "2027-12")
    rollforward = deferred_revenue_rollforward(
        snapshot.entries, snapshot.calendar, "2027-01", "2027-12", snapshot.chart
    )

    assert waterfall.total.total == usd("134400.00")
    december = rollforward.totals[-1]
    balances = await revenue_engine.balances(CONTRACT.contract_id)
    assert december.closing == balances.contract_liability - balances.contract_asset
    assert [line.period.key for line in rollforward.totals] == [f"2027-{m:02d}" for m in range(1, 13)]
