"""The approvals inbox: deals and amendments waiting for finance, their financial effect and why policy asked,
and the decision sent to the saga as its `decide` Update.

The saga's Update validator is the only judge of a decision (approver role, not the deal's own owner, not twice);
the console sends the signed-in user as the approver and shows the validator's refusal as it is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client
from temporalio.service import RPCError

from canonical.amendment_saga import AmendmentState
from canonical.money import Money
from canonical.saga import ApprovalDecision, ClosedWonState, RecordedDecision, SagaStatus, SagaType
from receiver.console.sagas import SagaDirectory, SagaFilter
from workflows.closed_won_client import decide, list_sagas, refusals_explained
from workflows.invoice_client import amendment_workflow_id

CLOSED_WON_PREFIX = "closed-won/"
AMENDMENT_PREFIX = amendment_workflow_id("")


@dataclass(frozen=True)
class PendingApproval:
    workflow_id: str
    kind: str  # "Deal" or "Amendment"
    subject: str  # the opportunity or amendment ID
    status: str
    contract_id: str
    effect: list[str]  # the financial effect, one line each
    reasons: list[str]  # why policy asked for a decision
    started_at: datetime | None
    ui_url: str
    problem: str | None = None  # why its details could not be read


def is_decidable(workflow_id: str) -> bool:
    return workflow_id.startswith((CLOSED_WON_PREFIX, AMENDMENT_PREFIX))


async def pending_approvals(directory: SagaDirectory) -> list[PendingApproval]:
    """Deals (through `q2c approvals`' own query) and amendments waiting for a decision, oldest first."""
    deals = [(s.workflow_id, s.started_at) for s in await list_sagas(directory.client, awaiting_decision=True)]
    amendments = [
        (row.workflow_id, row.started_at)
        for status in (SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED)
        for row in await directory.search(
            SagaFilter(saga_type=SagaType.AMENDMENT_TO_INVOICE, status=status, running_only=True)
        )
    ]
    # Each state is asked of a worker; together, so one saga without a worker delays the page once, not N times.
    pending = await asyncio.gather(*(_pending(directory, wid, started) for wid, started in deals + amendments))
    return sorted(pending, key=lambda p: (p.started_at is None, p.started_at or datetime.min))


async def send_decision(client: Client, workflow_id: str, decision: ApprovalDecision) -> RecordedDecision:
    """The saga's `decide` Update; `SagaActionRefused` carries the validator's reason when it says no."""
    if workflow_id.startswith(CLOSED_WON_PREFIX):
        return await decide(client, workflow_id, decision)
    handle = client.get_workflow_handle(workflow_id)
    async with refusals_explained(handle):
        recorded: RecordedDecision = await handle.execute_update("decide", decision, result_type=RecordedDecision)
        return recorded
    raise AssertionError("unreachable")  # for mypy: the context manager only re-raises


async def _pending(directory: SagaDirectory, workflow_id: str, started_at: datetime | None) -> PendingApproval:
    link = directory.link(workflow_id)
    subject = workflow_id.split("/", 1)[1]
    deal = workflow_id.startswith(CLOSED_WON_PREFIX)
    kind = "Deal" if deal else "Amendment"
    try:
        if deal:
            state: ClosedWonState | AmendmentState = await directory.state_of(workflow_id, ClosedWonState)
        else:
            state = await directory.state_of(workflow_id, AmendmentState)
    except RPCError as error:
        problem = f"its details could not be read ({error.message}); is a worker running?"
        return PendingApproval(workflow_id, kind, subject, "", "", [], [], started_at, link, problem)
    return PendingApproval(
        workflow_id=workflow_id,
        kind=kind,
        subject=subject,
        status=state.status.value,
        contract_id=state.contract_id or "",
        effect=_deal_effect(state) if isinstance(state, ClosedWonState) else _amendment_effect(state),
        reasons=[reason.message for reason in state.approval_reasons],
        started_at=started_at,
        ui_url=link,
    )


def _deal_effect(state: ClosedWonState) -> list[str]:
    return [f"Total contract value {money_text(state.total_contract_value)}"]


def _amendment_effect(state: AmendmentState) -> list[str]:
    lines = []
    if state.to_version is not None:
        lines.append(f"Contract version {state.from_version} → {state.to_version}")
    if state.preview is not None:
        lines.append(f"Billed at once {money_text(state.preview.total)}")
        lines += [f"{line.description}: {money_text(line.amount)}" for line in state.preview.lines]
    return lines or ["not known yet (no billing preview)"]


def money_text(value: Money | None) -> str:
    return "-" if value is None else f"{value.amount:,f} {value.currency}"
