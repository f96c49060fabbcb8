"""ClosedWonToSubscription on a real Temporal dev server, with in-memory systems behind the ports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError

from adapters.errors import PermanentAdapterError, RateLimitedError, TransientAdapterError
from adapters.memory.reference_deals import incomplete_deal, non_standard_deal, reference_deal
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.problems import ExceptionCategory
from canonical.references import System
from canonical.saga import ApprovalDecision, ClosedWonState, Resubmission, SagaStatus
from tests.conftest import SagaHarness
from workflows import search_attributes as sa
from workflows.closed_won import SAGA_COMPENSATED, ClosedWonToSubscription
from workflows.closed_won_client import SagaActionRefused, decide, resubmit, start_closed_won


async def start(harness: SagaHarness, opportunity_id: str) -> WorkflowHandle[ClosedWonToSubscription, ClosedWonState]:
    started = await start_closed_won(harness.client, opportunity_id, harness.policy, harness.task_queue)
    assert started.started
    return started.handle


async def until(
    handle: WorkflowHandle[ClosedWonToSubscription, ClosedWonState],
    predicate: Callable[[ClosedWonState], bool],
) -> ClosedWonState:
    for _ in range(200):
        state = await handle.query(ClosedWonToSubscription.state)
        if predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"saga never reached the expected state; last: {state.status} at {state.step}")


async def test_reference_deal_becomes_customers_subscription_and_revenue_contract(saga: SagaHarness) -> None:
    opportunity = saga.seed(reference_deal())
    handle = await start(saga, opportunity)
    result = await handle.result()

    assert result.status is SagaStatus.COMPLETED
    assert result.contract_id == f"CTR-{opportunity}"
    assert str(result.total_contract_value) == "123000.00 USD"  # 100 seats × 90.00 × 12 months + 15,000.00 onboarding
    assert result.mapping_version == "2026.11.1"
    refs = result.references
    erp_customer = saga.systems.erp.customers.customers[refs.erp_customer_id or ""]
    assert erp_customer.external_id == "001NW0000000001" and erp_customer.active
    assert saga.systems.billing.customers.customers[refs.billing_customer_id or ""].active
    subscription = saga.systems.billing.subscriptions[refs.subscription_id or ""]
    assert (subscription.status, subscription.lines, subscription.customer_id) == (
        "active",
        3,
        refs.billing_customer_id,
    )
    assert saga.systems.revenue.contracts[refs.revenue_contract_id or ""].obligations == 3
    [outcome] = saga.systems.crm.outcomes[opportunity]
    assert outcome.status is SagaStatus.COMPLETED and outcome.references == refs

    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.SAGA_STATUS) == "completed"
    assert attributes.get(sa.SAGA_STEP) == "done"
    assert attributes.get(sa.CONTRACT_ID) == result.contract_id
    assert attributes.get(sa.CRM_ACCOUNT_ID) == "001NW0000000001"
    assert attributes.get(sa.AMOUNT_MINOR) == 12_300_000
    assert attributes.get(sa.CURRENCY) == "USD"


async def test_a_repeated_trigger_starts_no_second_saga(saga: SagaHarness) -> None:
    opportunity = saga.seed(reference_deal())
    first = await start_closed_won(saga.client, opportunity, saga.policy, saga.task_queue)
    again = await start_closed_won(saga.client, opportunity, saga.policy, saga.task_queue)
    await first.handle.result()
    after_completion = await start_closed_won(saga.client, opportunity, saga.policy, saga.task_queue)

    assert (first.started, again.started, after_completion.started) == (True, False, False)
    assert again.handle.id == first.handle.id
    assert len(saga.systems.billing.subscriptions) == 1
    assert len(saga.systems.crm.outcomes[opportunity]) == 1


async def test_transient_and_rate_limited_errors_are_retried_by_temporal(saga: SagaHarness) -> None:
    opportunity = saga.seed(reference_deal())
    saga.systems.faults.fail(
        "erp.match_or_create_customer", TransientAdapterError(System.ERP, "502 Bad Gateway"), times=2
    )
    saga.systems.faults.fail(
        "billing.create_subscription",
        RateLimitedError(System.BILLING, "429", retry_after=timedelta(milliseconds=300)),
    )

    result = await (await start(saga, opportunity)).result()

    assert result.status is SagaStatus.COMPLETED
    assert saga.systems.faults.calls["erp.match_or_create_customer"] == 3
    assert saga.systems.faults.calls["billing.create_subscription"] == 2
    assert len(saga.systems.erp.customers.customers) == 1
    assert len(saga.systems.billing.subscriptions) == 1


# Each step's permanent failure, and what must be undone by then (in reverse order).
STEP_FAILURES = [
    ("erp.match_or_create_customer", "erp_customer", []),
    ("billing.match_or_create_customer", "billing_customer", ["deactivated ERP customer"]),
    (
        "billing.create_subscription",
        "subscription",
        ["deactivated billing customer", "deactivated ERP customer"],
    ),
    (
        "revenue.register_contract",
        "revenue_contract",
        ["cancelled subscription", "deactivated billing customer", "deactivated ERP customer"],
    ),
    (
        "crm.record_saga_outcome",
        "crm_write_back",
        [
            "withdrew revenue contract",
            "cancelled subscription",
            "deactivated billing customer",
            "deactivated ERP customer",
        ],
    ),
]


@pytest.mark.parametrize(("operation", "step", "undone"), STEP_FAILURES, ids=[s for _, s, _ in STEP_FAILURES])
async def test_a_permanent_failure_compensates_exactly_what_was_done(
    saga: SagaHarness, operation: str, step: str, undone: list[str]
) -> None:
    opportunity = saga.seed(reference_deal())
    saga.systems.faults.fail(
        operation,
        PermanentAdapterError(System.ERP, "refused: account is on credit hold", ExceptionCategory.MASTER_DATA_MISMATCH),
    )
    handle = await start(saga, opportunity)

    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == SAGA_COMPENSATED
    state = await handle.query(ClosedWonToSubscription.state)
    assert (state.status, state.step) == (SagaStatus.COMPENSATED, step)
    assert state.exception is not None and state.exception.category is ExceptionCategory.MASTER_DATA_MISMATCH
    assert [entry.rsplit(" ", 1)[0] for entry in state.compensated] == undone
    systems = saga.systems
    assert not any(c.active for c in systems.erp.customers.customers.values())
    assert not any(c.active for c in systems.billing.customers.customers.values())
    assert all(s.status == "canceled" for s in systems.billing.subscriptions.values())
    assert all(c.status == "withdrawn" for c in systems.revenue.contracts.values())
    told = systems.crm.outcomes[opportunity][-1]
    assert told.status is SagaStatus.COMPENSATED and "credit hold" in told.message
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.SAGA_STATUS) == "compensated"
    assert attributes.get(sa.EXCEPTION_CATEGORY) == "master_data_mismatch"


async def test_compensation_never_touches_a_customer_the_saga_only_matched(
    saga: SagaHarness, mapping_rules: MappingRules
) -> None:
    customer = build_contract(reference_deal(), mapping_rules).customer
    existing = await saga.systems.erp.match_or_create_customer(customer, "an-earlier-saga")
    opportunity = saga.seed(reference_deal())
    saga.systems.faults.fail("billing.create_subscription", PermanentAdapterError(System.BILLING, "price archived"))

    with pytest.raises(WorkflowFailureError):
        await (await start(saga, opportunity)).result()

    assert saga.systems.erp.customers.customers[existing.customer_id].active
    assert len(saga.systems.erp.customers.customers) == 1
    assert not any(c.active for c in saga.systems.billing.customers.customers.values())


async def test_bad_data_parks_the_saga_until_the_deal_is_fixed_and_resubmitted(saga: SagaHarness) -> None:
    opportunity = saga.seed(incomplete_deal())
    handle = await start(saga, opportunity)

    parked = await until(handle, lambda s: s.status is SagaStatus.NEEDS_ATTENTION)
    assert parked.exception is not None and parked.exception.category is ExceptionCategory.TAX_FAILURE
    fields = {(p.record, p.field) for p in parked.exception.problems}
    assert fields == {("Account 001NW0000000003", "tax_id"), ("Account 001NW0000000003", "billing_contact")}
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.SAGA_STATUS) == "needs_attention"
    assert attributes.get(sa.EXCEPTION_CATEGORY) == "tax_failure"
    assert not saga.systems.erp.customers.customers  # nothing half-written

    deal = await saga.systems.crm.fetch_deal(opportunity)
    fixed = deal.account.model_copy(
        update={
            "tax_id": "US-12-3456789",
            "billing_contact_name": "Ana",
            "billing_contact_email": "ap@fabrikam.example",
        }
    )
    saga.systems.crm.save_deal(deal.model_copy(update={"account": fixed}))
    await resubmit(saga.client, handle.id, Resubmission(requested_by="olga.ops", note="added tax ID and AP contact"))

    result = await handle.result()
    assert result.status is SagaStatus.COMPLETED and result.exception is None
    assert [r.requested_by for r in result.resubmissions] == ["olga.ops"]
    assert (await handle.describe()).typed_search_attributes.get(sa.EXCEPTION_CATEGORY) is None


async def test_resubmitting_a_saga_that_needs_no_attention_is_refused(saga: SagaHarness) -> None:
    opportunity = saga.seed(non_standard_deal())
    handle = await start(saga, opportunity)
    await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)

    with pytest.raises(SagaActionRefused, match="only a saga that needs attention"):
        await resubmit(saga.client, handle.id, Resubmission(requested_by="olga.ops"))


async def test_finance_approves_a_non_standard_deal(saga: SagaHarness) -> None:
    opportunity = saga.seed(non_standard_deal())
    handle = await start(saga, opportunity)

    waiting = await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)
    assert {r.rule for r in waiting.approval_reasons} == {"discount", "payment_terms"}
    assert not saga.systems.erp.customers.customers  # nothing is created before approval
    recorded = await decide(
        saga.client,
        handle.id,
        ApprovalDecision(approver="fiona.finance", approved=True, note="strategic logo"),
    )

    result = await handle.result()
    assert recorded.decision.approver == "fiona.finance"
    assert result.status is SagaStatus.COMPLETED
    assert result.decision is not None and result.decision.decision.note == "strategic logo"
    assert len(saga.systems.billing.subscriptions) == 1


@pytest.mark.parametrize(
    ("approver", "reason"),
    [
        ("sam.seller", "owns this deal"),
        ("olga.ops", "does not have the finance role"),
        ("mallory", "does not have the finance role"),
    ],
)
async def test_the_validator_refuses_approvers_without_the_right(saga: SagaHarness, approver: str, reason: str) -> None:
    opportunity = saga.seed(non_standard_deal())
    handle = await start(saga, opportunity)
    await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)

    with pytest.raises(SagaActionRefused, match=reason):
        await decide(saga.client, handle.id, ApprovalDecision(approver=approver, approved=True))

    state = await handle.query(ClosedWonToSubscription.state)
    assert state.status is SagaStatus.AWAITING_APPROVAL and state.decision is None


async def test_a_second_decision_is_refused(saga: SagaHarness) -> None:
    saga.systems.faults.fail("erp.match_or_create_customer", TransientAdapterError(System.ERP, "slow"), times=40)
    opportunity = saga.seed(non_standard_deal())
    handle = await start(saga, opportunity)
    await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)
    await decide(saga.client, handle.id, ApprovalDecision(approver="fiona.finance", approved=True))

    with pytest.raises(SagaActionRefused, match=r"already decided by fiona\.finance"):
        await decide(saga.client, handle.id, ApprovalDecision(approver="carl.controller", approved=False, note="no"))
    await handle.terminate("test done")


async def test_a_rejected_deal_creates_nothing_and_tells_the_crm(saga: SagaHarness) -> None:
    opportunity = saga.seed(non_standard_deal())
    handle = await start(saga, opportunity)
    await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)

    await decide(
        saga.client,
        handle.id,
        ApprovalDecision(approver="carl.controller", approved=False, note="margin too thin"),
    )
    result = await handle.result()

    assert result.status is SagaStatus.REJECTED
    assert result.exception is not None and result.exception.category is ExceptionCategory.APPROVAL_REJECTED
    assert not saga.systems.erp.customers.customers and not saga.systems.billing.subscriptions
    told = saga.systems.crm.outcomes[opportunity][-1]
    assert told.status is SagaStatus.REJECTED and "margin too thin" in told.message


async def test_an_unanswered_approval_escalates_then_the_approval_still_counts(
    skipping_saga: SagaHarness, time_skipping_env
) -> None:  # type: ignore[no-untyped-def]
    opportunity = skipping_saga.seed(non_standard_deal())
    with time_skipping_env.with_time_skipping_disabled():
        handle = await start(skipping_saga, opportunity)
    await until(handle, lambda s: s.status is SagaStatus.AWAITING_APPROVAL)

    await time_skipping_env.fast_forward(handle, skipping_saga.policy.approval.escalate_after + timedelta(hours=1))
    escalated = await until(handle, lambda s: s.status is SagaStatus.ESCALATED)
    assert (await handle.describe()).typed_search_attributes.get(sa.SAGA_STATUS) == "escalated"
    await decide(skipping_saga.client, handle.id, ApprovalDecision(approver="fiona.finance", approved=True))

    assert escalated.decision is None
    assert (await handle.result()).status is SagaStatus.COMPLETED


async def test_an_approval_nobody_gives_expires_the_saga(skipping_saga: SagaHarness, time_skipping_env) -> None:  # type: ignore[no-untyped-def]
    opportunity = skipping_saga.seed(non_standard_deal())
    handle = await start(skipping_saga, opportunity)  # skips time until the saga completes

    result = await handle.result()

    assert result.status is SagaStatus.EXPIRED
    assert not skipping_saga.systems.erp.customers.customers
    assert skipping_saga.systems.crm.outcomes[opportunity][-1].status is SagaStatus.EXPIRED


async def test_a_parked_deal_nobody_fixes_expires(skipping_saga: SagaHarness) -> None:
    opportunity = skipping_saga.seed(incomplete_deal())
    result = await (await start(skipping_saga, opportunity)).result()

    assert result.status is SagaStatus.EXPIRED
    assert result.exception is not None and result.exception.category is ExceptionCategory.TAX_FAILURE
    assert skipping_saga.systems.crm.outcomes[opportunity][-1].status is SagaStatus.EXPIRED


async def test_cancelling_a_saga_mid_way_undoes_what_it_did(saga: SagaHarness) -> None:
    opportunity = saga.seed(reference_deal())
    saga.systems.faults.fail("revenue.register_contract", TransientAdapterError(System.REVENUE, "down"), times=10_000)
    handle = await start(saga, opportunity)
    await until(handle, lambda s: s.references.subscription_id is not None and s.step == "revenue_contract")

    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()

    assert isinstance(failure.value.cause, CancelledError)
    state = await handle.query(ClosedWonToSubscription.state)
    assert state.status is SagaStatus.COMPENSATED
    assert [entry.rsplit(" ", 1)[0] for entry in state.compensated] == [
        "cancelled subscription",
        "deactivated billing customer",
        "deactivated ERP customer",
    ]
    assert all(s.status == "canceled" for s in saga.systems.billing.subscriptions.values())
    assert saga.systems.crm.outcomes[opportunity][-1].status is SagaStatus.COMPENSATED
