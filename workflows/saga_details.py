"""The text an operator sees under "Current details" in the Temporal UI: what the saga waits for, and why."""

from __future__ import annotations

from canonical.amendment_saga import AmendmentState
from canonical.invoice_saga import InvoiceToRevenueState, PaymentSettledState, PeriodCloseState
from canonical.saga import ClosedWonState, SagaException, SagaStatus

_NEXT_ACTION = {
    SagaStatus.NEEDS_ATTENTION: "Fix the deal in the CRM, then `q2c resubmit {workflow_id}`.",
    SagaStatus.AWAITING_APPROVAL: "Finance: `q2c approve {workflow_id} --as <user> --note ...` (or reject).",
    SagaStatus.ESCALATED: "Escalated: the approval is overdue. `q2c approve|reject {workflow_id} --as <user>`.",
}


def describe_closed_won(state: ClosedWonState) -> str:
    lines = [
        f"**{state.status.value}** at step `{state.step.value}`",
        f"Opportunity {state.opportunity_id}" + (f", contract {state.contract_id}" if state.contract_id else ""),
    ]
    if state.total_contract_value is not None:
        lines.append(f"Total contract value {state.total_contract_value}")
    if state.exception is not None:
        lines.append(f"Exception `{state.exception.category.value}`: {state.exception.message}")
    if state.approval_reasons:
        lines.append("Approval needed: " + "; ".join(r.message for r in state.approval_reasons))
    if state.decision is not None:
        verdict = "approved" if state.decision.decision.approved else "rejected"
        lines.append(f"{verdict.capitalize()} by {state.decision.decision.approver}: {state.decision.decision.note}")
    if state.compensated:
        lines.append("Compensated: " + ", ".join(state.compensated))
    action = _NEXT_ACTION.get(state.status)
    if action:
        lines.append(action.format(workflow_id=f"closed-won/{state.opportunity_id}"))
    return "\n\n".join(lines)


def describe_invoice_to_revenue(state: InvoiceToRevenueState) -> str:
    kind = state.kind.value.replace("_", " ") if state.kind else "document"
    lines = [f"**{state.status.value}** at step `{state.step.value}`", f"Billing {kind} {state.document_id}"]
    if state.contract_id is not None and state.total is not None:
        lines.append(f"Contract {state.contract_id}, total {state.total}, issued {state.issued_on}")
    if state.period is not None:
        lines.append(f"ERP period {state.period.name}" + (" (its own was closed)" if state.closed_period else ""))
    if state.erp_posting is not None:
        lines.append(f"ERP {state.erp_posting.record_type} {state.erp_posting.internal_id}")
    if state.exception is not None:
        lines.append(f"Exception `{state.exception.category.value}`: {state.exception.message}")
    workflow_id = f"invoice-to-revenue/{state.document_id}"
    if state.status is SagaStatus.NEEDS_ATTENTION:
        lines.append(f"Fix the cause, then `q2c retry {workflow_id} --as <user>`.")
    elif state.status is SagaStatus.AWAITING_APPROVAL:
        lines.append(f"Controllership: `q2c choose-period {workflow_id} --period <id> --as <user>`.")
    return "\n\n".join(lines)


def describe_payment_settled(state: PaymentSettledState) -> str:
    lines = [f"**{state.status.value}** at step `{state.step.value}`", f"Payment of billing invoice {state.invoice_id}"]
    if state.amount is not None:
        lines.append(f"{state.amount} paid on {state.paid_on}")
    if state.erp_payment is not None:
        lines.append(f"ERP customer payment {state.erp_payment.internal_id}")
    return "\n\n".join(lines + _parked(state.status, state.exception, f"payment-settled/{state.invoice_id}"))


def describe_period_close(state: PeriodCloseState) -> str:
    period = state.period.name if state.period else f"the period of {state.period_on}"
    lines = [f"**{state.status.value}** at step `{state.step.value}`", f"Close of {period}"]
    if state.usage_lines:
        lines.append(f"{state.usage_lines} usage line(s) metered")
    if state.journals:
        lines.append("Journals: " + ", ".join(f"{j.external_id} ({j.total})" for j in state.journals))
    return "\n\n".join(lines + _parked(state.status, state.exception, f"period-close/{state.period_on:%Y-%m}"))


def _parked(status: SagaStatus, exception: SagaException | None, workflow_id: str) -> list[str]:
    lines = []
    if exception is not None:
        lines.append(f"Exception `{exception.category.value}`: {exception.message}")
    if status is SagaStatus.NEEDS_ATTENTION:
        lines.append(f"Fix the cause, then `q2c retry {workflow_id} --as <user>`.")
    return lines


def describe_amendment(state: AmendmentState) -> str:
    lines = [f"**{state.status.value}** at step `{state.step.value}`", f"Amendment {state.amendment_id}"]
    if state.contract_id:
        versions = f" v{state.from_version} → v{state.to_version}" if state.to_version else ""
        lines.append(f"Contract {state.contract_id}{versions}")
    if state.preview is not None:
        lines.append(
            f"Billing effect {state.preview.total} ("
            + "; ".join(f"{line.description}: {line.amount}" for line in state.preview.lines)
            + ")"
        )
    if state.approval_reasons:
        lines.append("Approval needed: " + "; ".join(r.message for r in state.approval_reasons))
    if state.compensated:
        lines.append("Compensated: " + ", ".join(state.compensated))
    workflow_id = f"amendment/{state.amendment_id}"
    if state.status in (SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED):
        lines.append(f"Finance: `q2c approve {workflow_id} --as <user>` (or reject).")
    return "\n\n".join(lines + _parked(state.status, state.exception, workflow_id))
