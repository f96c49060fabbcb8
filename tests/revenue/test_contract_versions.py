"""A contract's next version as a modification (`revenue.contract_versions`) and the book that records it: which
lines are added or re-termed, how the transaction price follows version n + 1, when a catch-up is posted, and
what withdrawing a modification puts back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from canonical.amendment import Amendment, AmendmentChange, ChangeKind, amend_contract
from canonical.amendment import ModificationFacts as AmendmentFacts
from canonical.contract import Contract
from canonical.general_ledger import AccountingPeriod
from canonical.money import Money, sum_money
from revenue.book import ModificationInUseError, PeriodLockedError, RevenueBook, UnknownContractError
from revenue.calendar import calendar_months
from revenue.contract_versions import StaleVersionError, VersionChangeError, version_change
from revenue.journal import EntryKind
from revenue.modifications import ModificationFacts, Treatment
from revenue.obligations import obligations_from_contract
from tests.revenue.reference import reference_contract

CALENDAR = calendar_months(date(2027, 1, 1), date(2028, 12, 31))
CONTRACT = reference_contract()
PROSPECTIVE = ModificationFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True)
CATCH_UP = ModificationFacts(added_goods_distinct=False, priced_at_ssp=False, remaining_goods_distinct=False)
JULY_15 = date(2027, 7, 15)


def version_2(*changes: AmendmentChange, effective: date = JULY_15) -> Contract:
    amendment = Amendment(
        amendment_id="006NW0000000002",
        contract_id=CONTRACT.contract_id,
        references_version=1,
        effective=datetime(effective.year, effective.month, effective.day, tzinfo=UTC),
        changes=changes,
        facts=AmendmentFacts(added_goods_distinct=True, priced_at_ssp=False, remaining_goods_distinct=True),
        owner="sam.seller",
    )
    return amend_contract(CONTRACT, amendment)


def seats(quantity: int) -> AmendmentChange:
    return AmendmentChange(kind=ChangeKind.QUANTITY, line_no=1, quantity=Decimal(quantity))


def period(month: int) -> AccountingPeriod:
    month_period = CALENDAR.period(f"2027-{month:02d}")
    return AccountingPeriod(
        period_id=f"AP{month}", name=month_period.key, start=month_period.start, end=month_period.end, closed=False
    )


def registered_book() -> RevenueBook:
    book = RevenueBook(CALENDAR)
    book.register(CONTRACT, "sub_1", "closed-won")
    return book


def fixed_total(book: RevenueBook) -> Money:
    registration = book.active_registration(CONTRACT.contract_id)
    assert registration is not None
    return registration.allocation.transaction_price


def test_an_added_line_is_added_and_a_shortened_one_re_termed() -> None:
    more = version_2(seats(150))
    fewer = version_2(seats(80))
    longer = version_2(AmendmentChange(kind=ChangeKind.TERM_EXTENSION, term_end=date(2028, 6, 30)))
    obligations = obligations_from_contract(CONTRACT)

    up, down, extended = (version_change(CONTRACT, obligations, v, JULY_15) for v in (more, fewer, longer))

    assert [o.line_no for o in up.added] == [4] and up.retermed == ()
    assert [o.line_no for o in down.added] == [4]
    assert [(o.line_no, o.end) for o in down.retermed] == [(1, date(2027, 7, 14))]
    assert extended.added == () and {o.line_no for o in extended.retermed} == {1, 2, 3}
    assert {o.end for o in extended.retermed} == {date(2028, 6, 30)}


def test_a_version_that_does_not_follow_or_rewrites_history_is_refused() -> None:
    obligations = obligations_from_contract(CONTRACT)
    more = version_2(seats(150))
    backdated = more.lines[3].model_copy(update={"service_start": date(2027, 7, 1)})
    early = more.model_copy(update={"lines": (*more.lines[:3], backdated)})
    without_line_2 = more.model_copy(update={"lines": (more.lines[0], *more.lines[2:])})

    with pytest.raises(StaleVersionError, match="does not follow version 1"):
        version_change(CONTRACT, obligations, more.model_copy(update={"version": 3}), JULY_15)
    with pytest.raises(StaleVersionError):
        version_change(CONTRACT, obligations, more.model_copy(update={"contract_id": "CTR-OTHER"}), JULY_15)
    with pytest.raises(VersionChangeError, match="no line 2"):
        version_change(CONTRACT, obligations, without_line_2, JULY_15)
    with pytest.raises(VersionChangeError, match="before the modification"):
        version_change(CONTRACT, obligations, early, JULY_15)


@pytest.mark.parametrize("facts", [PROSPECTIVE, CATCH_UP], ids=["prospective", "catch-up"])
@pytest.mark.parametrize(
    "change",
    [seats(80), AmendmentChange(kind=ChangeKind.TERM_EXTENSION, term_end=date(2028, 6, 30)), seats(150)],
    ids=["fewer seats", "longer term", "more seats"],
)
def test_the_transaction_price_after_a_modification_is_the_new_versions(
    facts: ModificationFacts, change: AmendmentChange
) -> None:
    """Whatever the change and the treatment, the plans end up recognising exactly version 2's fixed price."""
    book = registered_book()
    amended = version_2(change)

    book.modify(amended, facts, JULY_15, "amendment")

    fixed = [o for o in obligations_from_contract(amended) if not o.is_variable]
    price = sum_money((o.consideration for o in fixed), "USD")
    assert fixed_total(book) == price
    schedules = {s.obligation_id: s for s in book.snapshot().schedules}
    assert sum_money((schedules[o.obligation_id].total for o in fixed), "USD") == price


def test_a_fewer_seats_change_under_separate_contract_facts_is_refused() -> None:
    book = registered_book()
    separate = ModificationFacts(added_goods_distinct=True, priced_at_ssp=True, remaining_goods_distinct=True)

    with pytest.raises(VersionChangeError, match="separate contract"):
        book.modify(version_2(seats(80)), separate, JULY_15, "amendment")
    assert book.changes == 1  # the registration only


def test_a_catch_up_recorded_ahead_of_its_date_is_posted_by_the_close_that_reaches_it() -> None:
    book = registered_book()
    recorded = book.modify(version_2(seats(150)), CATCH_UP, JULY_15, "amendment")  # recorded in June

    june = book.recognise(period(6))
    july = book.recognise(period(7))

    assert recorded.treatment is Treatment.CUMULATIVE_CATCH_UP and recorded.catch_up is not None
    assert [e.kind for e in june.entries] == [EntryKind.RECOGNITION]  # June knows nothing of July's catch-up
    assert [e.kind for e in july.entries] == [EntryKind.CATCH_UP, EntryKind.RECOGNITION]
    caught_up = sum_money(
        (-p.amount for p in july.entries[0].postings if p.account.startswith("4")), recorded.catch_up.currency
    )
    assert caught_up == recorded.catch_up
    assert book.modifications_of(CONTRACT.contract_id)[0].caught_up_in == "2027-07"
    with pytest.raises(ModificationInUseError, match="2027-07"):
        book.withdraw_modification(CONTRACT.contract_id, "amendment")


def test_withdrawing_before_the_close_drops_the_catch_up_and_restores_version_1() -> None:
    book, untouched = registered_book(), registered_book()
    book.modify(version_2(seats(80)), CATCH_UP, JULY_15, "amendment")

    withdrawn = book.withdraw_modification(CONTRACT.contract_id, "amendment")

    assert (
        withdrawn.status == "withdrawn" and book.withdraw_modification(CONTRACT.contract_id, "amendment") == withdrawn
    )
    assert book.active_registration(CONTRACT.contract_id) == untouched.active_registration(CONTRACT.contract_id)
    assert book.snapshot().schedules == untouched.snapshot().schedules
    assert book.recognise(period(7)).entries == untouched.recognise(period(7)).entries


def test_a_modification_of_an_unknown_contract_or_in_a_locked_period_is_refused() -> None:
    with pytest.raises(UnknownContractError):
        RevenueBook(CALENDAR).modify(version_2(seats(150)), PROSPECTIVE, JULY_15, "amendment")
    book = registered_book()
    book.lock(period(6))
    with pytest.raises(PeriodLockedError, match="2027-06"):
        book.modify(version_2(seats(150), effective=date(2027, 6, 10)), PROSPECTIVE, date(2027, 6, 10), "amendment")
    assert book.modifications_of(CONTRACT.contract_id) == ()
