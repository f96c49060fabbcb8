"""InvoiceToRevenue: a finalised invoice or credit note reaches the ERP at line level and the revenue engine.

Steps: fetch the document with its lines → map it to its ERP posting (ERP customer, legal entity, items, deferred-
revenue accounts from the mapping rules; a data problem parks the saga) → find the ERP period of its date; when
that period is closed, follow the policy: post in the next open period, or wait for controllership to choose one
(the `decide_period` Update) → post the AR invoice or credit memo (external ID = the billing document's ID) →
record the billed lines in the revenue engine → post the engine's reclassification journal, if any → acknowledge
the posting on the billing document.

Nothing here is compensated: every write is idempotent and the postings are what finance wants to exist, so a
permanent failure parks the step (`ParkedStep`) until someone fixes the cause and sends `retry`; the saga then
carries on from that step. The workflow ID comes from the document, so a duplicate event starts nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.invoice_to_revenue import (
        BillingDocumentActivities,
        ErpDocumentMappingActivities,
        GeneralLedgerActivities,
        RevenueLedgerActivities,
    )
    from canonical.billing_documents import BillingDocument
    from canonical.erp_documents import ErpDocumentMapping
    from canonical.general_ledger import AccountingPeriod
    from canonical.invoice_saga import InvoiceStep, InvoiceToRevenueInput, InvoiceToRevenueState, PeriodDecision
    from canonical.problems import ExceptionCategory
    from canonical.saga import Resubmission, SagaException, SagaStatus, SagaType
    from canonical.saga_policy import ClosedPeriodPolicy
    from workflows.saga_details import describe_invoice_to_revenue
    from workflows.saga_steps import SagaSteps, SearchAttributes, expired, step_key, wait_for

R = TypeVar("R")


@workflow.defn(name="InvoiceToRevenue")
class InvoiceToRevenue:
    @workflow.init
    def __init__(self, saga_input: InvoiceToRevenueInput) -> None:
        self._policy = saga_input.policy
        self._state = InvoiceToRevenueState(document_id=saga_input.document_id)
        self._attributes = SearchAttributes(saga_input.policy.search_attribute_updates)
        self._steps = SagaSteps(saga_input.policy, self._state, self._publish, at_risk=lambda: self._state.total)

    @workflow.run
    async def run(self, saga_input: InvoiceToRevenueInput) -> InvoiceToRevenueState:
        self._publish()
        document, mapping = await self._mapped_document(saga_input.document_id)
        period = await self._posting_period(document)
        posted = await self._step(
            InvoiceStep.ERP_POSTING,
            GeneralLedgerActivities.post_document_to_erp,
            mapping,
            period.period_id,
            document.applies_to,
            summary=f"Post {document.kind.value} {document.document_id} to the ERP in {period.name}",
        )
        self._state.erp_posting = posted
        journal = await self._step(
            InvoiceStep.REVENUE_ENGINE,
            RevenueLedgerActivities.record_billing_in_revenue_engine,
            document,
            period,
            step_key(InvoiceStep.REVENUE_ENGINE),
            summary=f"Record the billed lines of contract {document.contract_id} in the revenue engine",
        )
        if journal is not None:
            self._state.deferred_revenue_journal = await self._step(
                InvoiceStep.DEFERRED_REVENUE_JOURNAL,
                GeneralLedgerActivities.post_journal_to_erp,
                journal,
                summary=f"Post the deferred-revenue journal {journal.external_id}",
            )
        await self._step(
            InvoiceStep.ACKNOWLEDGE,
            BillingDocumentActivities.acknowledge_erp_posting,
            document.document_id,
            posted.internal_id,
            step_key(InvoiceStep.ACKNOWLEDGE),
            summary="Record the ERP posting on the billing document",
        )
        self._move_to(InvoiceStep.DONE, SagaStatus.COMPLETED)
        return self._state

    # --- handlers -------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> InvoiceToRevenueState:
        return self._state

    @workflow.update
    def retry(self, request: Resubmission) -> str:
        """Someone fixed what parked the saga (master data, mapping rules, the ERP): run the step again."""
        self._steps.parking.request_retry(request)
        return f"retry requested by {request.requested_by}"

    @retry.validator
    def _validate_retry(self, request: Resubmission) -> None:
        self._steps.validate_retry()

    @workflow.update
    def decide_period(self, decision: PeriodDecision) -> str:
        """Controllership chooses the open period for a document dated in a closed one."""
        self._state.period_decision = decision
        return f"period {decision.period_id} chosen by {decision.decided_by}"

    @decide_period.validator
    def _validate_period_decision(self, decision: PeriodDecision) -> None:
        if self._state.status is not SagaStatus.AWAITING_APPROVAL or self._state.closed_period is None:
            raise ValueError(f"the saga is not waiting for a period decision (status {self._state.status})")
        if self._state.period_decision is not None:
            raise ValueError(f"the period was already chosen by {self._state.period_decision.decided_by}")
        role = self._policy.period_decision_role
        if role not in self._policy.approval.people.get(decision.decided_by, ()):
            raise ValueError(f"{decision.decided_by} does not have the {role} role")
        if decision.period_id == self._state.closed_period.period_id:
            raise ValueError(f"period {self._state.closed_period.name} is closed; choose an open one")

    # --- steps ----------------------------------------------------------------------------------------

    async def _mapped_document(self, document_id: str) -> tuple[BillingDocument, ErpDocumentMapping]:
        """Fetch the document and map it; problems park the saga until `retry`, which fetches it again (the fix
        may be in the billing platform's data, e.g. the customer's ERP ID)."""
        while True:
            document = await self._step(
                InvoiceStep.FETCH_DOCUMENT,
                BillingDocumentActivities.fetch_billing_document,
                document_id,
                summary=f"Fetch {document_id} with its lines",
            )
            self._state.kind, self._state.contract_id = document.kind, document.contract_id
            self._state.total, self._state.issued_on = document.total, document.issued_on
            mapping = await self._step(
                InvoiceStep.ENRICH,
                ErpDocumentMappingActivities.map_document_to_erp_posting,
                document,
                summary="Map to the ERP posting (customer, items, accounts)",
            )
            if not mapping.problems:
                return document, mapping
            found = mapping.problems
            exception = SagaException(category=found[0].category, message="; ".join(map(str, found)), problems=found)
            await self._steps.park(InvoiceStep.ENRICH, exception)

    async def _posting_period(self, document: BillingDocument) -> AccountingPeriod:
        period = await self._step(
            InvoiceStep.ACCOUNTING_PERIOD,
            GeneralLedgerActivities.find_accounting_period,
            document.issued_on,
            summary=f"Find the ERP period of {document.issued_on}",
        )
        if not period.closed:
            self._state.period = period
            return period
        self._state.closed_period = period
        if self._policy.closed_period is ClosedPeriodPolicy.NEXT_OPEN_PERIOD:
            chosen = await self._step(
                InvoiceStep.ACCOUNTING_PERIOD,
                GeneralLedgerActivities.next_open_accounting_period,
                period,
                summary=f"{period.name} is closed: find the next open period",
            )
        else:
            chosen = await self._decided_period(period)
        self._state.period = chosen
        return chosen

    async def _decided_period(self, closed: AccountingPeriod) -> AccountingPeriod:
        exception = SagaException(
            category=ExceptionCategory.CLOSED_PERIOD,
            message=f"the ERP period {closed.name} of {self._state.issued_on} is closed: "
            f"{self._policy.period_decision_role} must choose an open period",
        )
        self._move_to(InvoiceStep.ACCOUNTING_PERIOD, SagaStatus.AWAITING_APPROVAL, exception=exception)
        deadline = self._policy.needs_attention_expire_after
        if not await wait_for(lambda: self._state.period_decision is not None, deadline):
            self._move_to(InvoiceStep.ACCOUNTING_PERIOD, SagaStatus.EXPIRED)
            raise expired(f"no period was chosen for {self._state.document_id}")
        assert self._state.period_decision is not None
        return await self._step(
            InvoiceStep.ACCOUNTING_PERIOD,
            GeneralLedgerActivities.find_accounting_period_by_id,
            self._state.period_decision.period_id,
            self._state.period_decision,
            summary=f"Read the chosen period {self._state.period_decision.period_id}",
        )

    # --- plumbing -------------------------------------------------------------------------------------

    async def _step(self, step: InvoiceStep, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        return await self._steps.run(step, activity, *args, summary=summary)

    def _move_to(self, step: InvoiceStep, status: SagaStatus | None = None, *, exception: object = ...) -> None:
        self._steps.move_to(step, status, exception=exception)

    def _publish(self) -> None:
        state = self._state
        self._attributes.publish(
            {
                sa.SAGA_TYPE: SagaType.INVOICE_TO_REVENUE.value,
                sa.SAGA_STATUS: state.status.value,
                sa.SAGA_STEP: state.step.value,
                sa.DOCUMENT_ID: state.document_id,
                sa.CONTRACT_ID: state.contract_id,
                sa.EXCEPTION_CATEGORY: state.exception.category.value if state.exception else None,
                sa.AMOUNT_MINOR: state.total.to_minor_units() if state.total else None,
                sa.CURRENCY: state.total.currency if state.total else None,
            },
            describe_invoice_to_revenue(state),
        )
