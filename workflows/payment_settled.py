"""PaymentSettled: cash received for a billing invoice is applied in the ERP, the revenue engine and the CRM.

Steps: fetch the payment (the invoice must be paid) → find the ERP period of the payment date (a closed one:
the next open period) → apply it to the invoice's ERP posting as a customer payment (external ID from the
invoice, so one payment per invoice) → record the cash in the revenue engine → tell the CRM account its payment
status and open receivable. If the invoice's own saga has not posted it yet, applying the payment waits (the
activity's "not posted yet" is transient and retried), so a payment event arriving first loses nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa  # "from workflows import" would re-run the module in each sandbox
    from activities.invoice_to_revenue import (
        BillingDocumentActivities,
        CrmAccountActivities,
        GeneralLedgerActivities,
        RevenueLedgerActivities,
    )
    from canonical.billing_documents import AccountPaymentUpdate, BillingPayment
    from canonical.general_ledger import AccountingPeriod
    from canonical.invoice_saga import PaymentSettledInput, PaymentSettledState, PaymentStep
    from canonical.saga import Resubmission, SagaStatus, SagaType
    from workflows.saga_details import describe_payment_settled
    from workflows.saga_steps import SagaSteps, SearchAttributes, step_key

R = TypeVar("R")


@workflow.defn(name="PaymentSettled")
class PaymentSettled:
    @workflow.init
    def __init__(self, saga_input: PaymentSettledInput) -> None:
        self._state = PaymentSettledState(invoice_id=saga_input.invoice_id)
        self._attributes = SearchAttributes(saga_input.policy.search_attribute_updates)
        self._steps = SagaSteps(saga_input.policy, self._state, self._publish, at_risk=lambda: self._state.amount)

    @workflow.run
    async def run(self, saga_input: PaymentSettledInput) -> PaymentSettledState:
        self._publish()
        payment = await self._step(
            PaymentStep.FETCH_PAYMENT,
            BillingDocumentActivities.fetch_billing_payment,
            saga_input.invoice_id,
            summary=f"Fetch the payment of {saga_input.invoice_id}",
        )
        self._state.amount, self._state.paid_on = payment.amount, payment.paid_on
        if payment.amount.is_zero:  # settled by a credit note, or a zero invoice: no cash to apply
            self._steps.move_to(PaymentStep.DONE, SagaStatus.COMPLETED, exception=None)
            return self._state
        period = await self._open_period(payment)
        self._state.erp_payment = await self._step(
            PaymentStep.ERP_PAYMENT,
            GeneralLedgerActivities.apply_payment_in_erp,
            payment,
            period.period_id,
            summary=f"Apply {payment.amount} to the ERP invoice of {payment.invoice_id}",
        )
        await self._step(
            PaymentStep.REVENUE_ENGINE,
            RevenueLedgerActivities.record_payment_in_revenue_engine,
            payment,
            step_key(PaymentStep.REVENUE_ENGINE),
            summary=f"Record the cash on contract {payment.contract_id}",
        )
        await self._tell_crm(payment)
        self._steps.move_to(PaymentStep.DONE, SagaStatus.COMPLETED, exception=None)
        return self._state

    @workflow.query
    def state(self) -> PaymentSettledState:
        return self._state

    @workflow.update
    def retry(self, request: Resubmission) -> str:
        self._steps.parking.request_retry(request)
        return f"retry requested by {request.requested_by}"

    @retry.validator
    def _validate_retry(self, request: Resubmission) -> None:
        self._steps.validate_retry()

    async def _open_period(self, payment: BillingPayment) -> AccountingPeriod:
        period = await self._step(
            PaymentStep.ERP_PAYMENT,
            GeneralLedgerActivities.find_accounting_period,
            payment.paid_on,
            summary=f"Find the ERP period of {payment.paid_on}",
        )
        if not period.closed:
            return period
        return await self._step(
            PaymentStep.ERP_PAYMENT,
            GeneralLedgerActivities.next_open_accounting_period,
            period,
            summary=f"{period.name} is closed: find the next open period",
        )

    async def _tell_crm(self, payment: BillingPayment) -> None:
        if payment.crm_account_id is None or payment.erp_customer_id is None:
            return  # a customer q2c did not create from the CRM has no account to tell
        open_receivable = await self._step(
            PaymentStep.CRM_ACCOUNT,
            GeneralLedgerActivities.customer_open_receivable,
            payment.erp_customer_id,
            payment.amount.currency,
            summary="Read the customer's open receivables in the ERP",
        )
        update = AccountPaymentUpdate(
            invoice_id=payment.invoice_id,
            paid_on=payment.paid_on,
            amount=payment.amount,
            open_receivable=open_receivable,
        )
        await self._step(
            PaymentStep.CRM_ACCOUNT,
            CrmAccountActivities.record_account_payment_in_crm,
            payment.crm_account_id,
            update,
            step_key(PaymentStep.CRM_ACCOUNT),
            summary=f"Tell CRM account {payment.crm_account_id}: {update.status}",
        )

    async def _step(self, step: PaymentStep, activity: Callable[..., Awaitable[R]], *args: Any, summary: str) -> R:
        return await self._steps.run(step, activity, *args, summary=summary)

    def _publish(self) -> None:
        state = self._state
        self._attributes.publish(
            {
                sa.SAGA_TYPE: SagaType.PAYMENT_SETTLED.value,
                sa.SAGA_STATUS: state.status.value,
                sa.SAGA_STEP: state.step.value,
                sa.DOCUMENT_ID: state.invoice_id,
                sa.EXCEPTION_CATEGORY: state.exception.category.value if state.exception else None,
                sa.AMOUNT_MINOR: state.amount.to_minor_units() if state.amount else None,
                sa.CURRENCY: state.amount.currency if state.amount else None,
            },
            describe_payment_settled(state),
        )
