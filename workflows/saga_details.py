"""The text an operator sees under "Current details" in the Temporal UI: what the saga waits for, and why."""

from __future__ import annotations

from canonical.saga import ClosedWonState, SagaStatus

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
