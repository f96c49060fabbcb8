"""Amendment → subscription change, the record that makes it reversible, and prorations → canonical lines: pure."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.errors import PermanentAdapterError
from adapters.stripe.amendment_mapping import (
    Credit,
    CurrentItem,
    ProrationFacts,
    Undo,
    credit_note_lines,
    post_payment_part,
    proration_lines,
    read_undo,
    subscription_change,
    undo_metadata,
)
from adapters.stripe.mapping import unix
from canonical.amendment import AmendmentChange, CancellationTiming, ChangeKind, CreditBehavior, amend_contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money

from .conftest import unique_contract
from .test_amendments import EXTRA_SEATS, PREMIUM, SEATS, USAGE, amendment, expansion
from .test_billing import at


def _items(contract_id: str) -> list[CurrentItem]:
    return [
        CurrentItem("si_seats", "price_seats", 100, contract_id, SEATS, "PLAT-SEAT"),
        CurrentItem("si_usage", "price_usage", None, contract_id, USAGE, "API-OVG"),
    ]


def test_the_reference_expansion_adds_two_items_and_removes_none(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    change = expansion(contract, rules)

    planned = subscription_change(amend_contract(contract, change), change, _items(contract.contract_id))

    assert [(line.line_no, int(line.quantity)) for line in planned.added] == [(EXTRA_SEATS, 50), (PREMIUM, 1)]
    assert planned.removed == () and planned.cancel_at is None and planned.cancellation is None


def test_a_price_change_replaces_the_item_and_a_retry_asks_only_for_what_is_missing(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    change = amendment(
        contract, AmendmentChange(kind=ChangeKind.PRICE, line_no=SEATS, net_unit_price=Money.of("80.00", "USD"))
    )
    amended = amend_contract(contract, change)
    replaced = [*_items(contract.contract_id), CurrentItem("si_new", "price_new", 100, contract.contract_id, 4)]

    planned = subscription_change(amended, change, _items(contract.contract_id))
    half_done = subscription_change(amended, change, replaced)

    assert [line.line_no for line in planned.added] == [4] and [i.item_id for i in planned.removed] == ["si_seats"]
    assert half_done.added == () and [i.item_id for i in half_done.removed] == ["si_seats"]


def test_items_of_another_contract_are_left_alone(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    change = amendment(contract, AmendmentChange(kind=ChangeKind.REMOVE_PRODUCT, line_no=SEATS))
    other = [CurrentItem("si_other", "price_other", 5, "CTR-OTHER", SEATS)]

    planned = subscription_change(amend_contract(contract, change), change, [*_items(contract.contract_id), *other])

    assert [item.item_id for item in planned.removed] == ["si_seats"]


def test_a_term_extension_moves_cancel_at_and_a_cancellation_says_when(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    extension = amendment(contract, AmendmentChange(kind=ChangeKind.TERM_EXTENSION, term_end=date(2028, 12, 31)))
    cancellation = amendment(
        contract, AmendmentChange(kind=ChangeKind.CANCELLATION, cancellation=CancellationTiming.PERIOD_END)
    )

    extended = subscription_change(amend_contract(contract, extension), extension, _items(contract.contract_id))
    canceled = subscription_change(amend_contract(contract, cancellation), cancellation, _items(contract.contract_id))

    assert extended.cancel_at == unix(date(2029, 1, 1)) and not extended.changes_items
    assert canceled.cancellation is CancellationTiming.PERIOD_END and not canceled.changes_items


def test_the_record_of_what_a_change_replaces_reads_back_and_stays_within_stripes_limits() -> None:
    undo = Undo(
        2, "006AM1", at(2027, 7, 15), CreditBehavior.CARRY_FORWARD, (("price_a", 100), ("price_b", None)), None, False
    )

    metadata = undo_metadata(undo, "amendment/x/billing")

    assert read_undo(metadata) == undo and metadata["q2c_amended_by"] == "amendment/x/billing"
    assert metadata["q2c_amendment_undo_items"] == "price_a:100 price_b"
    crowded = Undo(
        2, "006AM1", 0, CreditBehavior.CREDIT_NOTE, tuple((f"price_{n:030d}", 1) for n in range(20)), None, False
    )
    with pytest.raises(PermanentAdapterError) as too_many:
        undo_metadata(crowded, "k")
    assert "500-character" in too_many.value.message


def test_prorations_are_named_by_their_price_or_the_line_priced_inline(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    change = expansion(contract, rules)
    amended = amend_contract(contract, change)
    july_15, august = at(2027, 7, 15), at(2027, 8, 1)

    def fact(amount: int, price: str, product: str, unit: str, quantity: int, start: int = july_15) -> ProrationFacts:
        return ProrationFacts("p", amount, (start, august), True, price, product, unit, quantity, None)

    lines = proration_lines(
        [
            fact(246774, "price_inline_1", "plat_seat_monthly", "9000", 50),
            fact(109677, "price_inline_2", "prem_module_monthly", "200000", 1),
            fact(-1000, "price_seats", "plat_seat_monthly", "9000", 100),
            fact(-5000, "price_seats", "plat_seat_monthly", "9000", 100, start=at(2027, 7, 10)),  # not this change's
        ],
        july_15,
        {"price_seats": SEATS},
        amended.lines[3:],
        "USD",
    )

    assert [(line.line_no, line.amount) for line in lines] == [
        (EXTRA_SEATS, Money.of("2467.74", "USD")),
        (PREMIUM, Money.of("1096.77", "USD")),
        (SEATS, Money.of("-10.00", "USD")),
    ]
    assert {(line.period_start, line.period_end) for line in lines} == {(date(2027, 7, 15), date(2027, 7, 31))}
    with pytest.raises(PermanentAdapterError):
        proration_lines([fact(1, "price_x", "gold", "1", 1)], july_15, {}, (), "USD")


def test_a_credit_goes_on_the_lines_that_billed_the_time_and_the_rest_on_a_custom_line() -> None:
    item = CurrentItem("si_seats", "price_seats", 100, "CTR-1", SEATS, "PLAT-SEAT")
    credit = Credit(item, 7000, "in_1", ("il_a", "il_b"), "Unused time")

    lines = credit_note_lines(credit, {"il_a": 3000, "il_b": 2500})

    assert lines[:2] == [
        {"type": "invoice_line_item", "invoice_line_item": "il_a", "amount": 3000},
        {"type": "invoice_line_item", "invoice_line_item": "il_b", "amount": 2500},
    ]
    assert lines[2]["unit_amount"] == 1500 and lines[2]["metadata"] == {
        "contract_id": "CTR-1",
        "line_no": "1",
        "product_code": "PLAT-SEAT",
    }
    assert (post_payment_part(7000, "open", 5000), post_payment_part(7000, "paid", 0)) == (2000, 7000)
    assert post_payment_part(3000, "open", 5000) == 0
