"""AmendmentToInvoice: a mid-term change reaches billing, revenue and the CRM, in contract order, or not at all.

Steps: read the amendment from the CRM → wait for the contract's turn (`ContractSequencer`: amendments to one
contract never interleave, and one made against a later version waits for the one that makes it) → validate it
against the contract on record (a missing or stale reference parks the saga in *needs attention* as
`missing_amendment_reference` until someone fixes the CRM record and retries; it never guesses) → preview its
financial effect with billing (prorated to the second, co-terminated), shown in the saga's state → finance
approval when policy asks (credits above a threshold, mid-term downgrades, cancellations), through the same
Update-based approval as closed-won → tell the revenue engine (so an invoice for the new lines always finds its
obligations) → apply it in billing (upgrades invoice at once; credits per the amendment's credit behaviour) →
write the new version and the documents back to the CRM. The invoices and credit notes billing produced reach
invoice → revenue through billing's webhooks, once each (their sagas' IDs come from the documents).

Compensation: once the revenue engine or billing accepted the change, a later permanent failure reverses it in
billing (with the reversing invoice or credit) and in the revenue engine, and the CRM is told. Billing is undone
first: if the change's invoice reached the engine already, the engine withdraws the modification only once the
reversing credit note reached it too (its refusal until then is transient, so the undo is retried).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.amendment import (
        AmendmentMappingActivities,
        BillingAmendmentActivities,
        ContractTurnActivities,
        CrmAmendmentActivities,
        RevenueModificationActivities,
    )
    from canonical.amendment import Amendment, ContractOnRecord, CrmAmendmentOutcome
    from canonical.amendment_saga import (
        AmendmentInput,
        AmendmentState,
        AmendmentStep,
        TurnRequest,
        amendment_approval_reasons,
    )
    from canonical.contract import Contract
    from canonical.crm_amendment import CrmAmendment
    from canonical.money import Money
    from canonical.problems import ExceptionCategory
    from canonical.saga import ApprovalDecision, RecordedDecision, Resubmission, SagaException, SagaStatus, SagaType
    from canonical.saga_policy import approver_refusal
    from workflows.compensation import Compensations, run_to_completion
    from workflows.contract_sequencer import HOLDER_CHECK, TURN_GRANTED, sequencer_id
    from workflows.saga_details import describe_amendment
    from workflows.saga_steps import SagaSteps, SearchAttributes, call, exception_from, step_key, wait_for

R = TypeVar("R")
SAGA_COMPENSATED = "SagaCompensated"


@workflow.defn(name="AmendmentToInvoice")
class AmendmentToInvoice:
    @workflow.init
    def __init__(self, saga_input: AmendmentInput) -> None:
        self._policy = saga_input.policy
        self._state = AmendmentState(amendment_id=saga_input.amendment_id)
        self._attributes = SearchAttributes(saga_input.policy.search_attribute_updates)
        self._steps = SagaSteps(saga_input.policy, self._state, self._publish, at_risk=self._at_risk)
        self._compensations = Compensations()
        self._turn = False
        self._owner = ""
        self._started = workflow.now()

    @workflow.run
    async def run(self, saga_input: AmendmentInput) -> AmendmentState:
        self._publish()
        try:
            on_record, amendment, amended = await self._validated(saga_input.amendment_id)
            if not await self._approved(on_record, amendment, amended):
                verdict = SagaStatus.REJECTED if self._state.decision else SagaStatus.EXPIRED
                return await self._finish(verdict, self._verdict())
            await self._apply(on_record, amendment, amended)
        except ActivityError as error:
            if is_cancelled_exception(error):
                await self._compensate(None)
                raise
            await self._compensate(error)
            raise ApplicationError(self._failure(), type=SAGA_COMPENSATED, non_retryable=True) from error
        finally:
            await run_to_completion(self._release_turn())
        return await self._finish(SagaStatus.COMPLETED, f"contract {self._state.contract_id} v{self._state.to_version}")

    # --- handlers -------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> AmendmentState:
        return self._state

    @workflow.signal(name=TURN_GRANTED)
    def turn_granted(self) -> None:
        self._turn = True

    @workflow.signal(name=HOLDER_CHECK)
    def holder_check(self) -> None:
        """The contract's sequencer checking that this saga still runs; nothing to do."""

    @workflow.update
    def retry(self, request: Resubmission) -> str:
        """Someone fixed the amendment in the CRM: read and validate it again."""
        self._steps.parking.request_retry(request)
        return f"retry requested by {request.requested_by}"

    @retry.validator
    def _validate_retry(self, request: Resubmission) -> None:
        self._steps.validate_retry()

    @workflow.update
    def decide(self, decision: ApprovalDecision) -> RecordedDecision:
        recorded = RecordedDecision(decision=decision, decided_at=workflow.now())
        self._state.decision = recorded
        return recorded

    @decide.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        if self._state.decision is not None:
            raise ValueError(f"the amendment was already decided by {self._state.decision.decision.approver}")
        if self._state.status not in (SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED):
            raise ValueError(f"the saga is not awaiting approval (status {self._state.status})")
        refusal = approver_refusal(decision.approver, self._owner, self._policy.approval)
        if refusal is not None:
            raise ValueError(refusal)

    # --- steps ----------------------------------------------------------------------------------------

    async def _validated(self, amendment_id: str) -> tuple[ContractOnRecord, Amendment, Contract]:
        """Read and validate until it applies; problems park the saga until `retry` (which reads it again)."""
        while True:
            record = await self._step(
                AmendmentStep.READ_AMENDMENT,
                CrmAmendmentActivities.read_amendment,
                amendment_id,
                summary=f"Read amendment {amendment_id} from the CRM",
            )
            self._owner = record.owner or ""
            if record.contract_id and not self._turn:
                await self._take_turn(record)
            if record.contract_id:
                on_record = await self._step(
                    AmendmentStep.VALIDATE,
                    RevenueModificationActivities.read_contract_on_record,
                    record.contract_id,
                    summary=f"Read contract {record.contract_id} as it stands",
                )
                early = (record.contract_version or 0) > on_record.contract.version
                if early and workflow.now() - self._started < self._policy.needs_attention_expire_after:
                    await self._wait_for_earlier_amendment(record, on_record)
                    continue
                mapping = await self._step(
                    AmendmentStep.VALIDATE,
                    AmendmentMappingActivities.map_amendment,
                    record,
                    on_record,
                    summary=f"Validate against {record.contract_id} v{on_record.contract.version}",
                )
                if mapping.amendment is not None and mapping.amended is not None:
                    self._state.amendment = mapping.amendment
                    self._state.from_version, self._state.to_version = (
                        on_record.contract.version,
                        mapping.amended.version,
                    )
                    return on_record, mapping.amendment, mapping.amended
                problems = mapping.problems
            else:
                problems = ()
            message = "; ".join(map(str, problems)) or f"{record.label} names no contract to amend"
            category = problems[0].category if problems else ExceptionCategory.MISSING_AMENDMENT_REFERENCE
            await self._release_turn()  # a parked amendment must not hold up the contract's others
            await self._steps.park(
                AmendmentStep.VALIDATE, SagaException(category=category, message=message, problems=problems)
            )

    async def _wait_for_earlier_amendment(self, record: CrmAmendment, on_record: ContractOnRecord) -> None:
        """Made against a version that does not exist yet: give the turn back so the amendment that makes that
        version can go first, and queue again a little later (events that arrive early are put back in order)."""
        self._steps.move_to(AmendmentStep.CONTRACT_TURN, SagaStatus.RUNNING)
        workflow.logger.info(
            "%s is against v%s of %s, which is at v%s: waiting for the amendment before it",
            record.label,
            record.contract_version,
            on_record.contract.contract_id,
            on_record.contract.version,
        )
        await self._release_turn()
        await workflow.sleep(self._policy.retry_maximum_interval)

    async def _take_turn(self, record: CrmAmendment) -> None:
        assert record.contract_id is not None
        self._state.contract_id = record.contract_id
        request = TurnRequest(workflow_id=workflow.info().workflow_id, references_version=record.contract_version or 1)
        await self._step(
            AmendmentStep.CONTRACT_TURN,
            ContractTurnActivities.request_contract_turn,
            sequencer_id(record.contract_id),
            request,
            summary=f"Queue for contract {record.contract_id}",
        )
        await workflow.wait_condition(lambda: self._turn)

    async def _approved(self, on_record: ContractOnRecord, amendment: Amendment, amended: Contract) -> bool:
        preview = await self._step(
            AmendmentStep.PREVIEW,
            BillingAmendmentActivities.preview_amendment_in_billing,
            on_record.billing_subscription_id,
            amended,
            amendment,
            summary="Preview the prorations with billing",
        )
        self._state.preview = preview
        reasons = amendment_approval_reasons(amendment, preview, self._policy.amendment_approval)
        self._state.approval_reasons = reasons
        if not reasons:
            return True
        approval = self._policy.approval
        self._steps.move_to(AmendmentStep.APPROVAL, SagaStatus.AWAITING_APPROVAL)
        decided = await wait_for(lambda: self._state.decision is not None, approval.escalate_after)
        if not decided:
            self._steps.move_to(AmendmentStep.APPROVAL, SagaStatus.ESCALATED)
            decided = await wait_for(
                lambda: self._state.decision is not None, approval.expire_after - approval.escalate_after
            )
        return self._state.decision is not None and self._state.decision.decision.approved

    async def _apply(self, on_record: ContractOnRecord, amendment: Amendment, amended: Contract) -> None:
        key = step_key(AmendmentStep.REVENUE_MODIFICATION)
        self._undo_with(
            "withdrew revenue modification",
            RevenueModificationActivities.withdraw_modification_from_revenue_engine,
            key,
        )
        self._state.modification = await self._call(
            AmendmentStep.REVENUE_MODIFICATION,
            RevenueModificationActivities.record_modification_in_revenue_engine,
            amended,
            amendment,
            key,
            summary=f"Tell the revenue engine: {amendment.contract_id} v{amended.version}",
        )
        key = step_key(AmendmentStep.BILLING_CHANGE)
        self._undo_with("reversed billing change", BillingAmendmentActivities.reverse_amendment_in_billing, key)
        self._state.billing_change = await self._call(
            AmendmentStep.BILLING_CHANGE,
            BillingAmendmentActivities.apply_amendment_in_billing,
            on_record.billing_subscription_id,
            amended,
            amendment,
            key,
            summary=f"Change subscription {on_record.billing_subscription_id}",
        )
        await self._call(
            AmendmentStep.CRM_WRITE_BACK,
            CrmAmendmentActivities.write_amendment_outcome_to_crm,
            self._state.amendment_id,
            self._outcome("completed", amended),
            step_key(AmendmentStep.CRM_WRITE_BACK),
            self._state.decision,
            summary="Write the new contract version back to the CRM",
        )

    # --- ending ---------------------------------------------------------------------------------------

    async def _compensate(self, error: ActivityError | None) -> None:
        failed = self._state.step
        self._steps.move_to(failed, SagaStatus.COMPENSATING, exception=exception_from(error, failed.value))
        self._state.compensated = await self._compensations.run_in_reverse()
        self._steps.move_to(failed, SagaStatus.COMPENSATED)
        await run_to_completion(self._tell_crm("compensated", self._failure()))

    async def _finish(self, status: SagaStatus, message: str) -> AmendmentState:
        if status is SagaStatus.COMPLETED:
            self._steps.move_to(AmendmentStep.DONE, status, exception=None)
        else:
            await self._tell_crm(status.value, message)
            category = ExceptionCategory.APPROVAL_REJECTED
            self._steps.move_to(self._state.step, status, exception=SagaException(category=category, message=message))
        return self._state

    async def _tell_crm(self, status: str, message: str) -> None:
        try:
            await call(
                self._policy,
                CrmAmendmentActivities.write_amendment_outcome_to_crm,
                self._state.amendment_id,
                self._outcome(status, None, message),
                step_key(f"crm-{status}"),
                self._state.decision,
                summary=f"Tell the CRM: {status}",
                attempts=5,
            )
        except ActivityError:
            workflow.logger.warning("could not tell the CRM that amendment %s is %s", self._state.amendment_id, status)

    async def _release_turn(self) -> None:
        if self._turn and self._state.contract_id is not None:
            sequencer = workflow.get_external_workflow_handle(sequencer_id(self._state.contract_id))
            await sequencer.signal("release", workflow.info().workflow_id)
            self._turn = False

    # --- plumbing -------------------------------------------------------------------------------------

    async def _step(self, step: AmendmentStep, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        """A step before anything is written: a permanent failure parks the saga until `retry`."""
        return await self._steps.run(step, activity, *args, summary=summary)

    async def _call(self, step: AmendmentStep, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        """A writing step: a permanent failure compensates (the caller's except clause)."""
        self._steps.move_to(step, SagaStatus.RUNNING)
        return await call(self._policy, activity, *args, summary=summary)

    def _undo_with(self, description: str, activity: Callable[..., Awaitable[str | None]], key: str) -> None:
        async def undo() -> str | None:
            return await call(self._policy, activity, key, summary=f"Compensate: {description}")

        self._compensations.register(description, undo)

    def _outcome(self, status: str, amended: Contract | None, message: str = "") -> CrmAmendmentOutcome:
        change = self._state.billing_change
        return CrmAmendmentOutcome(
            workflow_id=workflow.info().workflow_id,
            status=status,
            contract_id=self._state.contract_id or "",
            contract_version=amended.version if amended else None,
            total_contract_value=amended.total_contract_value if amended else None,
            invoice_ids=change.invoice_ids if change else (),
            credit_note_ids=change.credit_note_ids if change else (),
            message=message,
        )

    def _at_risk(self) -> Money | None:
        """A parked amendment puts its billing effect at risk (known once previewed)."""
        return self._state.preview.total if self._state.preview else None

    def _verdict(self) -> str:
        decision = self._state.decision
        if decision is None:
            return "no approval decision before the deadline"
        return f"rejected by {decision.decision.approver}: {decision.decision.note}"

    def _failure(self) -> str:
        reason = self._state.exception.message if self._state.exception else "failed"
        return f"{reason}; compensated: {', '.join(self._state.compensated) or 'nothing to undo'}"

    def _publish(self) -> None:
        state = self._state
        total = state.preview.total if state.preview else None
        self._attributes.publish(
            {
                sa.SAGA_TYPE: SagaType.AMENDMENT_TO_INVOICE.value,
                sa.SAGA_STATUS: state.status.value,
                sa.SAGA_STEP: state.step.value,
                sa.OPPORTUNITY_ID: state.amendment_id,
                sa.CONTRACT_ID: state.contract_id,
                sa.EXCEPTION_CATEGORY: state.exception.category.value if state.exception else None,
                sa.AMOUNT_MINOR: total.to_minor_units() if total else None,
                sa.CURRENCY: total.currency if total else None,
            },
            describe_amendment(state),
        )
