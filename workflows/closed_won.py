"""ClosedWonToSubscription: a closed-won opportunity becomes customers, a subscription and a revenue contract.

Steps: read the deal → map it to a contract (a data problem parks the saga in *needs attention* until someone
resubmits) → finance approval when policy says the deal is non-standard (a Temporal Update, validated) →
ERP customer → billing customer → subscription → revenue contract → write references back to the CRM.
A permanent failure or a cancellation undoes the completed steps in reverse and tells the CRM why.

The workflow only orchestrates; every call to a system is an activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.closed_won import (
        BillingActivities,
        ContractMappingActivities,
        CrmActivities,
        ErpActivities,
        RevenueActivities,
    )
    from canonical.contract import Contract
    from canonical.problems import ExceptionCategory
    from canonical.references import SystemReferences
    from canonical.saga import (
        ApprovalDecision,
        ClosedWonInput,
        ClosedWonState,
        ClosedWonStep,
        RecordedDecision,
        Resubmission,
        SagaException,
        SagaOutcome,
        SagaStatus,
        SagaType,
    )
    from canonical.saga_policy import approval_reasons, approver_refusal
    from workflows.compensation import Compensations, run_to_completion
    from workflows.saga_details import describe_closed_won
    from workflows.saga_steps import ExceptionCases, SearchAttributes, call, exception_from, step_key, wait_for

WORKFLOW_ID_PREFIX = "closed-won/"
SAGA_COMPENSATED = "SagaCompensated"
R = TypeVar("R")


def workflow_id_for(opportunity_id: str) -> str:
    """One saga per opportunity, ever: a repeated trigger finds this ID taken and starts nothing."""
    return f"{WORKFLOW_ID_PREFIX}{opportunity_id}"


@workflow.defn(name="ClosedWonToSubscription")
class ClosedWonToSubscription:
    @workflow.init
    def __init__(self, saga_input: ClosedWonInput) -> None:
        self._input = saga_input
        self._policy = saga_input.policy
        self._state = ClosedWonState(
            opportunity_id=saga_input.opportunity_id,
            policy_version=saga_input.policy.version,
            references=SystemReferences(crm_opportunity_id=saga_input.opportunity_id),
        )
        self._contract: Contract | None = None
        self._pending_resubmission: Resubmission | None = None
        self._compensations = Compensations()
        self._attributes = SearchAttributes(saga_input.policy.search_attribute_updates)
        self._cases = ExceptionCases(saga_input.policy)  # a deal parks before its contract's value is known

    @workflow.run
    async def run(self, saga_input: ClosedWonInput) -> ClosedWonState:
        self._publish()
        try:
            contract = await self._contract_from_crm()
            if contract is None:
                return await self._finish(SagaStatus.EXPIRED, "the deal's data was not fixed in time")
            verdict = await self._approval(contract)
            if verdict is not None:
                return await self._finish(verdict, self._verdict_message(verdict))
            await self._provision(contract)
        except (ActivityError, asyncio.CancelledError) as error:
            # Cancelling the saga while it awaits an activity surfaces as an ActivityError caused by the
            # cancellation: undo, then let the cancellation through so the saga ends as cancelled.
            if is_cancelled_exception(error):
                await self._compensate(None)
                raise
            assert isinstance(error, ActivityError)
            await self._compensate(error)
            raise ApplicationError(self._failure_message(), type=SAGA_COMPENSATED, non_retryable=True) from error
        return await self._finish(SagaStatus.COMPLETED, "subscription created")

    # --- handlers -------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> ClosedWonState:
        return self._state

    @workflow.update
    def decide(self, decision: ApprovalDecision) -> RecordedDecision:
        """Finance approves or rejects a non-standard deal."""
        recorded = RecordedDecision(decision=decision, decided_at=workflow.now())
        self._state.decision = recorded
        return recorded

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        if self._state.decision is not None:
            raise ValueError(f"the deal was already decided by {self._state.decision.decision.approver}")
        if self._state.status not in (SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED):
            raise ValueError(f"the saga is not awaiting approval (status {self._state.status})")
        assert self._contract is not None  # awaiting approval implies a mapped contract
        refusal = approver_refusal(decision.approver, self._contract.owner, self._policy.approval)
        if refusal is not None:
            raise ValueError(refusal)

    @workflow.update
    def resubmit(self, request: Resubmission) -> str:
        """Someone fixed the deal's data in the CRM: read it again."""
        self._pending_resubmission = request
        self._state.resubmissions.append(request)
        return f"resubmitted by {request.requested_by}"

    @resubmit.validator
    def _validate_resubmission(self, request: Resubmission) -> None:
        if self._state.status is not SagaStatus.NEEDS_ATTENTION:
            raise ValueError(f"only a saga that needs attention can be resubmitted (status {self._state.status})")
        if self._pending_resubmission is not None:
            raise ValueError("a resubmission is already pending")

    # --- steps ----------------------------------------------------------------------------------------

    async def _contract_from_crm(self) -> Contract | None:
        """Read and map the deal; park in needs-attention on data problems until resubmitted or expired."""
        while True:
            self._move_to(ClosedWonStep.READ_DEAL, SagaStatus.RUNNING, exception=None)
            deal = await self._call(
                CrmActivities.read_closed_won_deal,
                self._state.opportunity_id,
                summary="Read opportunity, quote lines and account",
            )
            self._state.references = self._state.references.model_copy(
                update={"crm_account_id": deal.account.account_id}
            )
            self._move_to(ClosedWonStep.MAP_CONTRACT)
            mapped = await self._call(
                ContractMappingActivities.map_deal_to_contract,
                deal,
                summary="Validate and map to a canonical contract",
            )
            self._state.mapping_version = mapped.mapping_version
            if mapped.contract is not None:
                self._contract = mapped.contract
                self._state.contract_id = mapped.contract.contract_id
                self._state.total_contract_value = mapped.contract.total_contract_value
                return mapped.contract
            problem = SagaException(
                category=mapped.problems[0].category,
                message="; ".join(str(p) for p in mapped.problems),
                problems=mapped.problems,
            )
            self._move_to(ClosedWonStep.MAP_CONTRACT, SagaStatus.NEEDS_ATTENTION, exception=problem)
            self._pending_resubmission = None
            case_id = await self._cases.open(problem)
            if not await self._wait_for(
                lambda: self._pending_resubmission is not None, self._policy.needs_attention_expire_after
            ):
                await self._cases.close_expired(case_id, "the deal's data was not fixed in time")
                return None
            await self._cases.close_resumed(case_id, self._pending_resubmission)
            self._pending_resubmission = None

    async def _approval(self, contract: Contract) -> SagaStatus | None:
        """None when the deal may proceed; otherwise the status it ends with (rejected or expired)."""
        reasons = approval_reasons(contract, self._policy.approval)
        self._state.approval_reasons = reasons
        if not reasons:
            return None
        approval = self._policy.approval
        self._move_to(ClosedWonStep.APPROVAL, SagaStatus.AWAITING_APPROVAL)
        decided = await self._wait_for(lambda: self._state.decision is not None, approval.escalate_after)
        if not decided:
            self._move_to(ClosedWonStep.APPROVAL, SagaStatus.ESCALATED)
            decided = await self._wait_for(
                lambda: self._state.decision is not None, approval.expire_after - approval.escalate_after
            )
        if not decided or self._state.decision is None:
            return SagaStatus.EXPIRED
        if not self._state.decision.decision.approved:
            return SagaStatus.REJECTED
        self._move_to(ClosedWonStep.APPROVAL, SagaStatus.RUNNING)
        return None

    async def _provision(self, contract: Contract) -> None:
        key = self._begin(
            ClosedWonStep.ERP_CUSTOMER, "deactivated ERP customer", ErpActivities.deactivate_erp_customer_created_by
        )
        erp = await self._call(
            ErpActivities.match_or_create_erp_customer,
            contract.customer,
            key,
            summary=f"Match or create ERP customer {contract.customer.name}",
        )
        self._reference(erp_customer_id=erp.customer_id)

        key = self._begin(
            ClosedWonStep.BILLING_CUSTOMER,
            "deactivated billing customer",
            BillingActivities.deactivate_billing_customer_created_by,
        )
        billing = await self._call(
            BillingActivities.match_or_create_billing_customer,
            contract.customer,
            erp.customer_id,
            key,
            summary=f"Match or create billing customer {contract.customer.name}",
        )
        self._reference(billing_customer_id=billing.customer_id)

        key = self._begin(
            ClosedWonStep.SUBSCRIPTION, "cancelled subscription", BillingActivities.cancel_subscription_created_by
        )
        subscription = await self._call(
            BillingActivities.create_subscription,
            contract,
            billing.customer_id,
            key,
            summary=f"Create subscription for {contract.contract_id}",
        )
        self._reference(subscription_id=subscription.subscription_id)

        key = self._begin(
            ClosedWonStep.REVENUE_CONTRACT,
            "withdrew revenue contract",
            RevenueActivities.withdraw_revenue_contract_registered_by,
        )
        revenue = await self._call(
            RevenueActivities.register_revenue_contract,
            contract,
            subscription.subscription_id,
            key,
            summary=f"Register {contract.contract_id} with revenue",
        )
        self._reference(revenue_contract_id=revenue.revenue_contract_id)

        self._move_to(ClosedWonStep.CRM_WRITE_BACK)
        await self._tell_crm(SagaStatus.COMPLETED, "subscription created", self._key(ClosedWonStep.CRM_WRITE_BACK))

    async def _compensate(self, error: ActivityError | None) -> None:
        failed_step = self._state.step
        self._move_to(failed_step, SagaStatus.COMPENSATING, exception=exception_from(error, failed_step.value))
        self._state.compensated = await self._compensations.run_in_reverse()
        self._move_to(failed_step, SagaStatus.COMPENSATED)
        await run_to_completion(
            self._tell_crm(SagaStatus.COMPENSATED, self._failure_message(), self._key("compensated"), attempts=5)
        )

    async def _finish(self, status: SagaStatus, message: str) -> ClosedWonState:
        if status is not SagaStatus.COMPLETED:
            await self._tell_crm(status, message, self._key(status.value))
            category = ExceptionCategory.APPROVAL_REJECTED if status is SagaStatus.REJECTED else None
            exception = self._state.exception if category is None else SagaException(category=category, message=message)
            self._move_to(self._state.step, status, exception=exception)
        else:
            self._move_to(ClosedWonStep.DONE, status, exception=None)
        return self._state

    # --- plumbing -------------------------------------------------------------------------------------

    async def _call(self, activity: Callable[..., Awaitable[R]], *args: Any, summary: str, attempts: int = 0) -> R:
        return await call(self._policy, activity, *args, summary=summary, attempts=attempts)

    def _begin(self, step: ClosedWonStep, undo_description: str, undo: Callable[..., Any]) -> str:
        """Enter a provisioning step; its compensation is registered before anything is written. Returns its key."""
        key = self._key(step)
        self._move_to(step)
        self._undo_with(undo_description, undo, key)
        return key

    def _undo_with(self, description: str, activity: Callable[..., Any], key: str) -> None:
        async def undo() -> str | None:
            result: str | None = await self._call(activity, key, summary=f"Compensate: {description}")
            return result

        self._compensations.register(description, undo)

    async def _tell_crm(self, status: SagaStatus, message: str, key: str, attempts: int = 0) -> None:
        outcome = SagaOutcome(
            workflow_id=workflow.info().workflow_id,
            status=status,
            references=self._state.references,
            contract_id=self._state.contract_id,
            message=message,
        )
        try:
            await self._call(
                CrmActivities.write_saga_outcome_to_crm,
                self._state.opportunity_id,
                outcome,
                key,
                self._state.decision,
                summary=f"Tell the CRM: {status}",
                attempts=attempts,
            )
        except ActivityError:
            if not attempts:
                raise
            # When the CRM itself is what failed, the saga's own status in Temporal is the record.
            workflow.logger.warning("could not tell the CRM that the saga is %s", status)

    async def _wait_for(self, condition: Callable[[], bool], timeout: timedelta) -> bool:
        return await wait_for(condition, timeout)

    def _key(self, step: str) -> str:
        return step_key(step)

    def _reference(self, **ids: str) -> None:
        self._state.references = self._state.references.model_copy(update=ids)

    def _move_to(
        self,
        step: ClosedWonStep,
        status: SagaStatus | None = None,
        *,
        exception: SagaException | object | None = ...,
    ) -> None:
        self._state.step = step
        if status is not None:
            self._state.status = status
        if exception is not ...:
            self._state.exception = exception  # type: ignore[assignment]
        self._publish()

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state, upserting only changes."""
        state = self._state
        value = state.total_contract_value
        self._attributes.publish(
            {
                sa.SAGA_TYPE: SagaType.CLOSED_WON.value,
                sa.SAGA_STATUS: state.status.value,
                sa.SAGA_STEP: state.step.value,
                sa.OPPORTUNITY_ID: state.opportunity_id,
                sa.CRM_ACCOUNT_ID: state.references.crm_account_id,
                sa.CONTRACT_ID: state.contract_id,
                sa.EXCEPTION_CATEGORY: state.exception.category.value if state.exception else None,
                sa.AMOUNT_MINOR: value.to_minor_units() if value else None,
                sa.CURRENCY: value.currency if value else None,
            },
            describe_closed_won(state),
        )

    def _failure_message(self) -> str:
        exception = self._state.exception
        reason = exception.message if exception else "failed"
        undone = ", ".join(self._state.compensated) or "nothing to undo"
        return f"{reason}; compensated: {undone}"

    def _verdict_message(self, status: SagaStatus) -> str:
        if status is SagaStatus.REJECTED and self._state.decision is not None:
            decision = self._state.decision.decision
            return f"rejected by {decision.approver}: {decision.note}"
        return "no approval decision before the deadline"
