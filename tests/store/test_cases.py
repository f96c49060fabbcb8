"""The exception queue: one case per parked saga and category, owned by a team, closed with who, what and why."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from adapters.store import (
    DEFAULT_OWNERS,
    CaseAction,
    CaseClosed,
    CaseNotFound,
    CaseStatus,
    OperationalStore,
    OwnerRole,
)
from canonical.money import Money
from canonical.problems import ExceptionCategory
from tests.store.conftest import execute_sql


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def test_every_category_has_a_default_owner() -> None:
    assert set(DEFAULT_OWNERS) == set(ExceptionCategory)
    assert DEFAULT_OWNERS[ExceptionCategory.CLOSED_PERIOD] is OwnerRole.CONTROLLERSHIP
    assert DEFAULT_OWNERS[ExceptionCategory.RECONCILIATION_BREAK] is OwnerRole.CONTROLLERSHIP
    assert DEFAULT_OWNERS[ExceptionCategory.TAX_FAILURE] is OwnerRole.BILLING_OPS
    assert DEFAULT_OWNERS[ExceptionCategory.INVALID_DATA] is OwnerRole.SALES_OPS


async def test_opening_a_case(store: OperationalStore) -> None:
    case = await store.open_case(
        "closed-won/006NW0000000002",
        ExceptionCategory.INVALID_DATA,
        "Account 001NW0000000002: billing_contact missing",
        usd("48000.00"),
    )

    assert case.status is CaseStatus.OPEN
    assert case.owner is OwnerRole.SALES_OPS
    assert case.amount_at_risk == usd("48000.00")
    assert case.resolution is None and case.closed_at is None
    assert [(h.by, h.what, h.why, h.status) for h in case.history] == [
        ("system", "opened", "Account 001NW0000000002: billing_contact missing", CaseStatus.OPEN)
    ]
    assert await store.case(case.id) == case


async def test_opening_is_idempotent_per_saga_and_category_while_open(store: OperationalStore) -> None:
    first = await store.open_case("w1", ExceptionCategory.TAX_FAILURE, "tax service down for DE", usd("10.00"))
    again = await store.open_case("w1", ExceptionCategory.TAX_FAILURE, "tax service down again", usd("99.00"))
    other_category = await store.open_case("w1", ExceptionCategory.CLOSED_PERIOD, "June is closed", usd("10.00"))

    assert again == first
    assert other_category.id != first.id

    await store.resolve_case(first.id, "bob.billing", CaseAction.RETRY, "tax service is back")
    reopened = await store.open_case("w1", ExceptionCategory.TAX_FAILURE, "tax service down once more", None)
    assert reopened.id != first.id and reopened.status is CaseStatus.OPEN


async def test_racing_opens_of_one_case_leave_one_case(store: OperationalStore) -> None:
    cases = await asyncio.gather(
        *(store.open_case("w-race", ExceptionCategory.DUPLICATE_DETECTED, "two customers", None) for _ in range(10))
    )

    assert len({case.id for case in cases}) == 1
    assert len(await store.open_cases()) == 1


async def test_resolving_records_who_what_when_and_why(store: OperationalStore) -> None:
    case = await store.open_case("w2", ExceptionCategory.MAPPING_MISSING, "no price for SKU API-OVERAGE", usd("900"))

    resolved = await store.resolve_case(case.id, "olga.ops", CaseAction.RESUME, "mapped SKU API-OVERAGE in 2026.11.2")

    assert resolved.status is CaseStatus.RESOLVED
    assert resolved.resolution is CaseAction.RESUME
    assert resolved.closed_at is not None and resolved.closed_at >= resolved.opened_at
    last = resolved.history[-1]
    assert (last.by, last.what, last.why, last.status) == (
        "olga.ops",
        "resume",
        "mapped SKU API-OVERAGE in 2026.11.2",
        CaseStatus.RESOLVED,
    )
    assert last.at == resolved.closed_at
    assert await store.open_cases() == []


async def test_dismissing_and_compensating(store: OperationalStore) -> None:
    dismissed = await store.open_case("w3", ExceptionCategory.DUPLICATE_DETECTED, "duplicate trigger", None)
    compensated = await store.open_case("w4", ExceptionCategory.APPROVAL_REJECTED, "rejected", usd("5.00"))

    assert (
        await store.resolve_case(dismissed.id, "carl.controller", CaseAction("dismiss"), "not a real deal")
    ).status is (CaseStatus.DISMISSED)
    closed = await store.resolve_case(compensated.id, "fiona.finance", CaseAction.COMPENSATE, "deal withdrawn")
    assert (closed.status, closed.resolution) == (CaseStatus.RESOLVED, CaseAction.COMPENSATE)


async def test_repeating_a_resolution_is_a_no_op_but_a_different_one_is_refused(store: OperationalStore) -> None:
    case = await store.open_case("w5", ExceptionCategory.CLOSED_PERIOD, "May is closed", usd("1.00"))
    first = await store.resolve_case(case.id, "carl.controller", CaseAction.RETRY, "reopened May")

    assert await store.resolve_case(case.id, "carl.controller", CaseAction.RETRY, "reopened May") == first
    with pytest.raises(CaseClosed, match=rf"case {case.id} is already resolved \(retry\)"):
        await store.resolve_case(case.id, "carl.controller", CaseAction.DISMISS, "never mind")
    with pytest.raises(CaseNotFound):
        await store.resolve_case(case.id + 1000, "carl.controller", CaseAction.RETRY, "?")
    with pytest.raises(ValueError, match="reason"):
        await store.resolve_case(case.id, "carl.controller", CaseAction.RETRY, "")
    with pytest.raises(ValueError):
        await store.resolve_case(case.id, "carl.controller", "approve", "not an action")  # type: ignore[arg-type]


async def test_reassigning_to_another_team(store: OperationalStore) -> None:
    case = await store.open_case("w6", ExceptionCategory.MASTER_DATA_MISMATCH, "ERP name differs", usd("3.00"))

    moved = await store.reassign_case(case.id, OwnerRole.BILLING_OPS, "olga.ops", "billing owns the ERP record")
    assert await store.reassign_case(case.id, OwnerRole.BILLING_OPS, "olga.ops", "again") == moved

    assert moved.owner is OwnerRole.BILLING_OPS
    assert [h.what for h in moved.history] == ["opened", "reassigned to billing_ops"]
    assert [c.id for c in await store.open_cases(owner=OwnerRole.BILLING_OPS)] == [case.id]
    assert await store.open_cases(owner=OwnerRole.SALES_OPS) == []


async def test_the_queue_is_sorted_by_amount_at_risk_and_filtered(store: OperationalStore) -> None:
    small = await store.open_case("w-small", ExceptionCategory.TAX_FAILURE, "small", usd("999.99"))
    unknown = await store.open_case("w-unknown", ExceptionCategory.INVALID_DATA, "no contract yet", None)
    large = await store.open_case("w-large", ExceptionCategory.CLOSED_PERIOD, "large", usd("123000.00"))
    middle = await store.open_case("w-middle", ExceptionCategory.TAX_FAILURE, "middle", usd("1000.00"))
    tiny = await store.open_case("w-tiny", ExceptionCategory.SYSTEM_REJECTED, "tiny", usd("0.01"))
    closed = await store.open_case("w-closed", ExceptionCategory.TAX_FAILURE, "closed", usd("1000000.00"))
    await store.resolve_case(closed.id, "bob.billing", CaseAction.RETRY, "done")

    assert [c.id for c in await store.open_cases()] == [large.id, middle.id, small.id, tiny.id, unknown.id]
    assert [c.id for c in await store.open_cases(category=ExceptionCategory.TAX_FAILURE)] == [middle.id, small.id]
    assert [c.id for c in await store.open_cases(owner=OwnerRole.BILLING_OPS)] == [middle.id, small.id, tiny.id]
    assert [c.id for c in await store.open_cases(owner=OwnerRole.CONTROLLERSHIP)] == [large.id]
    assert [
        c.id for c in await store.open_cases(category=ExceptionCategory.TAX_FAILURE, owner=OwnerRole.SALES_OPS)
    ] == []


async def test_an_explicit_owner_overrides_the_default(store: OperationalStore) -> None:
    case = await store.open_case(
        "w7", ExceptionCategory.INVALID_DATA, "bad tax ID", usd("1"), owner=OwnerRole.BILLING_OPS, opened_by="olga.ops"
    )

    assert case.owner is OwnerRole.BILLING_OPS
    assert case.history[0].by == "olga.ops"


async def test_money_round_trips_exactly(store: OperationalStore) -> None:
    """0.1 + 0.2 is 0.30 going in and coming out, scale included; floats never touch it."""
    amount = Decimal("0.10") + Decimal("0.20")
    assert 0.1 + 0.2 != 0.3  # what a float column would have done

    case = await store.open_case(
        "w-cents", ExceptionCategory.TAX_FAILURE, "cents", Money(amount=amount, currency="USD")
    )
    huge = Decimal("12345678901234567890.123456789")
    big = await store.open_case("w-huge", ExceptionCategory.TAX_FAILURE, "huge", Money(amount=huge, currency="JPY"))
    kwd = await store.open_case("w-kwd", ExceptionCategory.TAX_FAILURE, "fils", Money.of("0.005", "KWD"))

    read = await store.case(case.id)
    assert read.amount_at_risk is not None
    assert read.amount_at_risk.amount == Decimal("0.30")
    assert str(read.amount_at_risk.amount) == "0.30"
    assert read.amount_at_risk.currency == "USD"
    assert (await store.case(big.id)).amount_at_risk == Money(amount=huge, currency="JPY")
    assert str((await store.case(kwd.id)).amount_at_risk.amount) == "0.005"  # type: ignore[union-attr]


async def test_the_money_column_is_exact_in_the_database_too(store: OperationalStore) -> None:
    """PostgreSQL sums NUMERIC exactly; SQLite keeps the decimal's text (its NUMERIC would be a float)."""
    await store.open_case("w-a", ExceptionCategory.TAX_FAILURE, "a", usd("0.10"))
    await store.open_case("w-b", ExceptionCategory.TAX_FAILURE, "b", usd("0.20"))

    async with store.engine.connect() as connection:
        if store.engine.dialect.name == "postgresql":
            total = (await connection.exec_driver_sql("SELECT sum(amount_at_risk) FROM exception_cases")).scalar_one()
            assert total == Decimal("0.30") and str(total) == "0.30"
        else:
            stored = (
                await connection.exec_driver_sql(
                    "SELECT typeof(amount_at_risk), amount_at_risk FROM exception_cases ORDER BY id"
                )
            ).all()
            assert [tuple(row) for row in stored] == [("text", "0.10"), ("text", "0.20")]


async def test_an_amount_needs_its_currency(store: OperationalStore) -> None:
    from sqlalchemy.exc import IntegrityError

    case = await store.open_case("w-c", ExceptionCategory.TAX_FAILURE, "c", usd("1.00"))
    with pytest.raises(IntegrityError):
        await execute_sql(store, "UPDATE exception_cases SET currency = NULL WHERE id = :id", id=case.id)
