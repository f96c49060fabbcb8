"""Invariants, for any contract: splits add up exactly, journals balance, positions reconcile, closes are idempotent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from canonical.money import Money, sum_money
from revenue.allocation import AllocationError, allocate_transaction_price
from revenue.calendar import calendar_months, fiscal_445
from revenue.journal import JournalEntry
from revenue.ledger import (
    BilledLine,
    Invoice,
    Ledger,
    Payment,
    close_period,
    post_catch_ups,
    post_invoice,
    post_payment,
)
from revenue.modifications import ContractModification, ModificationFacts, PriceConcession, modify_contract
from revenue.obligations import PerformanceObligation, Satisfaction
from revenue.recognition import Pattern, plan_contract, recognised_by, schedule
from revenue.rounding import round_half_up
from revenue.usage import UsageCharge
from tests.revenue.builders import obligation, usage_obligation, usd

FIRST_DAY = date(2027, 1, 1)
MONTHS = calendar_months(FIRST_DAY, date(2033, 12, 31))
FISCAL = fiscal_445(date(2026, 12, 27), 7)
SETTINGS = settings(max_examples=60, deadline=None)

days = st.integers(0, 3 * 365).map(lambda n: FIRST_DAY + timedelta(days=n))
cents = st.integers(0, 10**9)


@st.composite
def fixed_obligation(draw: st.DrawFn, name: str, contract_id: str) -> PerformanceObligation:
    start = draw(days)
    satisfaction = draw(st.sampled_from([Satisfaction.OVER_TIME, Satisfaction.POINT_IN_TIME]))
    return obligation(
        name,
        contract_id=contract_id,
        consideration=draw(cents),
        ssp=draw(st.integers(1, 10**9)),
        satisfaction=satisfaction,
        start=start,
        end=start + timedelta(days=draw(st.integers(0, 700))),
        milestone=draw(st.one_of(st.none(), st.just(start))),
        revenue_account=draw(st.sampled_from(["4000", "4100"])),
    )


@st.composite
def contract(draw: st.DrawFn, contract_id: str = "C1") -> tuple[tuple[PerformanceObligation, ...], list[UsageCharge]]:
    count = draw(st.integers(1, 4))
    obligations = [draw(fixed_obligation(str(n), contract_id)) for n in range(count)]
    charges: list[UsageCharge] = []
    if draw(st.booleans()):
        api = usage_obligation(contract_id=contract_id)
        obligations.append(api)
        charges = [
            UsageCharge(api.obligation_id, day, Decimal(0), Money.from_minor_units(amount, "USD"))
            for day, amount in draw(st.lists(st.tuples(days, st.integers(-(10**5), 10**7)), max_size=6))
        ]
    return tuple(obligations), charges


def plans_of(obligations: tuple[PerformanceObligation, ...], charges: list[UsageCharge], pattern: Pattern):
    allocation = allocate_transaction_price(obligations)
    return allocation, plan_contract(allocation, pattern, charges)


@SETTINGS
@given(contract(), st.sampled_from(list(Pattern)[:2]))
def test_allocations_and_schedules_add_up_exactly(drawn, pattern: Pattern) -> None:
    obligations, charges = drawn
    allocation, plans = plans_of(obligations, charges, pattern)

    assert sum_money((line.amount for line in allocation.lines), "USD") == allocation.transaction_price
    assert all(not line.amount.is_negative for line in allocation.lines)
    for plan in plans:
        assert plan.total + plan.awaiting_milestone == plan.allocated
        for calendar in (MONTHS, FISCAL):
            assert schedule(plan, calendar).total == plan.total


@SETTINGS
@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_integer_rounding_is_decimal_half_up(numerator: int, denominator: int) -> None:
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_half_up(numerator, denominator) == int(expected)


@SETTINGS
@given(cents, days, st.integers(0, 1500))
def test_ratable_cumulative_never_drifts(amount: int, start: date, length: int) -> None:
    """At every period end, recognised to date is round(allocation x days elapsed / days), never a running sum."""
    end = start + timedelta(days=length)
    dollars = str(Decimal(amount).scaleb(-2))
    ob = obligation("R", ssp=1, consideration=dollars, satisfaction=Satisfaction.OVER_TIME, start=start, end=end)
    plan = plan_contract(allocate_transaction_price([ob]))[0]
    for line in schedule(plan, MONTHS).lines:
        elapsed = min((line.period.end - ob.start).days + 1, ob.days)
        assert line.cumulative.to_minor_units() == round_half_up(amount * elapsed, ob.days)


@st.composite
def billing(draw: st.DrawFn, obligations: tuple[PerformanceObligation, ...]) -> list[tuple[date, Invoice | Payment]]:
    """Invoices, credit-free, on random days for random obligations, and payments of random parts of them."""
    events: list[tuple[date, Invoice | Payment]] = []
    for n in range(draw(st.integers(0, 8))):
        target = draw(st.sampled_from(obligations))
        day = draw(days)
        amount = Money.from_minor_units(draw(st.integers(1, 10**8)), "USD")
        invoice = Invoice(
            f"I{n}-{target.contract_id}", target.contract_id, day, (BilledLine(target.obligation_id, amount),)
        )
        events.append((day, invoice))
        if draw(st.booleans()):
            paid = Money.from_minor_units(draw(st.integers(1, amount.to_minor_units())), "USD")
            events.append(
                (day + timedelta(days=20), Payment(f"P{n}", target.contract_id, day + timedelta(days=20), paid))
            )
    return events


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_journal_balances_and_positions_reconcile_at_every_period_end(data: st.DataObject) -> None:
    """billed − recognised = contract liability − contract asset − unbilled receivable, per contract, at every
    month end; closing a month twice changes nothing."""
    contracts = [data.draw(contract(cid)) for cid in ("C1", "C2")]
    obligations = tuple(o for obs, _ in contracts for o in obs)
    plans = tuple(p for obs, charges in contracts for p in plans_of(obs, charges, Pattern.RATABLE_DAILY)[1])
    schedules = [schedule(plan, MONTHS) for plan in plans]
    events = sorted(data.draw(billing(obligations)), key=lambda e: e[0])
    ledger = Ledger.open(obligations)
    entries: list[JournalEntry] = []
    for period in MONTHS.periods[:48]:
        for _, event in [e for e in events if period.start <= e[0] <= period.end]:
            ledger, posted = post_invoice(ledger, event) if isinstance(event, Invoice) else post_payment(ledger, event)
            entries += posted
        ledger, posted = close_period(ledger, schedules, period.key)
        entries += posted
        again, repeated = close_period(ledger, schedules, period.key)
        assert repeated == () and again.recognised == ledger.recognised
        for contract_id in ledger.contract_ids:
            b = ledger.balances(contract_id)
            assert b.billed - b.recognised == b.contract_liability - b.contract_asset - b.unbilled_receivable
            assert b.revenue == b.recognised
        for item in schedules:
            assert ledger.recognised_for(item.obligation_id) == item.cumulative_through(period.key)
    assert all(entry.debits == entry.credits for entry in entries)


facts = st.builds(ModificationFacts, st.booleans(), st.booleans(), st.booleans())


@SETTINGS
@given(contract(), st.lists(st.integers(0, 3), max_size=2), facts, days, cents, st.booleans())
def test_modifications_keep_history_and_add_up(drawn, added_ids, fact, effective, extra, concede) -> None:
    """Whatever the treatment: nothing recognised before the modification changes, the plans add up to the old
    consideration plus the new (less any concession), and every revised schedule sums to its plan."""
    obligations, charges = drawn
    _, plans = plans_of(obligations, charges, Pattern.RATABLE_DAILY)
    added = tuple(
        obligation(
            f"new{n}",
            consideration=extra,
            ssp=n + 1,
            satisfaction=Satisfaction.OVER_TIME,
            start=effective,
            end=effective + timedelta(days=30 * n),
        )
        for n in set(added_ids)
    )
    concessions = (PriceConcession(obligations[0].obligation_id, usd(1)),) if concede else ()
    separate = fact.added_goods_distinct and fact.priced_at_ssp
    assume(added or not separate)  # a separate contract needs goods of its own
    additional = None if separate else Money.from_minor_units(extra, "USD")
    change = ContractModification(effective, fact, added, additional, concessions)

    try:
        result = modify_contract(obligations, plans, change)
    except AllocationError as error:
        # Everything was already satisfied: no obligation is left to take the new consideration.
        assert "no obligation is left" in str(error) and not added
        return

    last = effective - timedelta(days=1)
    old = {p.obligation_id: p for p in plans}
    for plan in result.plans:
        if plan.obligation_id in old:
            assert recognised_by(plan, last) == recognised_by(old[plan.obligation_id], last)
        assert schedule(plan, MONTHS).total == plan.total
    expected = sum_money((p.allocated for p in plans), "USD") + sum_money((o.consideration for o in added), "USD")
    expected = expected + (additional or usd(0)) - (usd(1) if concede else usd(0))
    assert sum_money((p.allocated for p in result.plans), "USD") == expected
    _, entries = post_catch_ups(Ledger.open((*obligations, *added)), result.catch_ups)
    assert all(e.debits == e.credits for e in entries)
