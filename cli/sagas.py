"""Commands on closed-won sagas: start, sagas, show, approvals, approve, reject, resubmit."""

from __future__ import annotations

import argparse
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from canonical.saga import ApprovalDecision, ClosedWonState, Resubmission, SagaStatus
from cli import output
from cli.context import CliError, Globals, connect, not_found, q2c_command, saga_id, ui_link
from workers.temporal_settings import TemporalSettings
from workflows import search_attributes as sa
from workflows.closed_won import ClosedWonToSubscription
from workflows.closed_won_client import (
    closed_won_handle,
    decide,
    list_sagas,
    resubmit,
    start_closed_won,
)

QUERY_TIMEOUT = timedelta(seconds=10)
EVENTUAL_CONSISTENCY_NOTE = (
    "(the list lags the sagas by a second or so: Temporal's visibility is eventually consistent)"
)


# --- start ---------------------------------------------------------------------------------------------


async def start(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    policy = options.policy()  # a bad policy file stops here, before anything reaches Temporal
    settings = options.settings()
    client = await connect(settings)
    started = await start_closed_won(client, args.opportunity_id, policy, settings.task_queue)
    workflow_id = started.handle.id
    if started.started:
        output.say(f"Started saga {workflow_id} (saga policy {policy.version}, task queue {settings.task_queue})")
    else:
        output.say(f"Saga {workflow_id}: a saga for this opportunity already exists; nothing new was started")
    output.say(f"  Temporal UI  {ui_link(settings, workflow_id)}")
    output.say(f"  Follow it    {q2c_command(settings, 'show', workflow_id)}")
    if not args.wait:
        return 0
    output.say("Waiting for the saga to finish (it may wait for people; Ctrl-C stops waiting, not the saga) ...")
    state = await final_state(client, settings, workflow_id)
    output.say(f"Saga {workflow_id} ended {state.status.value}:")
    for line in output.saga_summary(state, ui_link(settings, workflow_id)):
        output.say(line)
    return 0 if state.status is SagaStatus.COMPLETED else 1


async def final_state(client: Client, settings: TemporalSettings, workflow_id: str) -> ClosedWonState:
    """The saga's result; for a saga that failed (and compensated), its last state from the query."""
    handle = closed_won_handle(client, workflow_id)
    try:
        result: ClosedWonState = await handle.result()
    except WorkflowFailureError:
        state, _ = await fetch_state(client, settings, workflow_id)
        return state
    return result


# --- sagas ---------------------------------------------------------------------------------------------


async def sagas(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    found = await list_sagas(client, waiting_only=args.stuck)
    shown = found[: args.limit] if args.limit else found
    what = "running sagas waiting for people" if args.stuck else "closed-won sagas"
    if not shown:
        output.say(f"No {what} in namespace {settings.namespace} at {settings.address} {EVENTUAL_CONSISTENCY_NOTE}")
        return 0
    rows = [
        [
            s.workflow_id,
            s.saga_status or "-",
            s.step or "-",
            s.exception_category or "-",
            s.execution_status,
            output.when(s.started_at),
        ]
        for s in shown
    ]
    for line in output.table(["WORKFLOW ID", "SAGA STATUS", "STEP", "EXCEPTION", "EXECUTION", "STARTED"], rows):
        output.say(line)
    more = f", showing the newest {len(shown)}" if len(shown) < len(found) else ""
    output.say(f"{len(found)} {what}{more} {EVENTUAL_CONSISTENCY_NOTE}")
    output.say(f"Details of one: {q2c_command(settings, 'show', 'WORKFLOW_ID')}")
    return 0


# --- show ----------------------------------------------------------------------------------------------


async def fetch_state(client: Client, settings: TemporalSettings, workflow_id: str) -> tuple[ClosedWonState, str]:
    """The saga's state and its execution status (`running`, `completed`, `failed`, ...).

    A completed saga's state is its result, read from history; any other is asked of a worker (the query),
    which needs one running on the saga's task queue.
    """
    handle = closed_won_handle(client, workflow_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        raise not_found(error, workflow_id, settings) or error from None
    status = description.status or WorkflowExecutionStatus.RUNNING
    try:
        if status is WorkflowExecutionStatus.COMPLETED:
            result: ClosedWonState = await handle.result()
            return result, status.name.lower()
        state = await handle.query(ClosedWonToSubscription.state, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as error:
        if error.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise
        attrs = description.typed_search_attributes
        indexed = f"status {attrs.get(sa.SAGA_STATUS) or '?'}, step {attrs.get(sa.SAGA_STEP) or '?'}"
        raise CliError(
            f"no worker answered the state query of {workflow_id} within {QUERY_TIMEOUT.seconds} s; "
            f"is a worker polling task queue {description.task_queue}? (`q2c worker` or `q2c dev`). "
            f"Temporal's index says: {indexed}"
        ) from None
    return state, status.name.lower()


def next_steps(settings: TemporalSettings, state: ClosedWonState, workflow_id: str) -> list[str]:
    if state.status in (SagaStatus.AWAITING_APPROVAL, SagaStatus.ESCALATED):
        return [
            q2c_command(settings, "approve", workflow_id, "--as", "USER", "--note", "TEXT"),
            q2c_command(settings, "reject", workflow_id, "--as", "USER", "--note", "WHY"),
        ]
    if state.status is SagaStatus.NEEDS_ATTENTION:
        return [
            "fix the deal in the CRM, then:",
            q2c_command(settings, "resubmit", workflow_id, "--as", "USER", "--note", "WHAT WAS FIXED"),
        ]
    return []


async def show(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    workflow_id = saga_id(args.saga)
    state, execution = await fetch_state(client, settings, workflow_id)
    link = ui_link(settings, workflow_id)
    for line in output.saga_details(workflow_id, state, execution, link, next_steps(settings, state, workflow_id)):
        output.say(line)
    return 0


# --- approvals -----------------------------------------------------------------------------------------


async def approvals(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    pending = await list_sagas(client, awaiting_decision=True)
    if not pending:
        output.say(f"No approvals pending in namespace {settings.namespace} {EVENTUAL_CONSISTENCY_NOTE}")
        return 0
    output.say(f"{len(pending)} approval(s) pending {EVENTUAL_CONSISTENCY_NOTE}")
    for summary in pending:
        state, _ = await fetch_state(client, settings, summary.workflow_id)
        output.say()
        output.say(f"Saga {summary.workflow_id}")
        rows: list[output.Row] = [
            ("Status", output.status_text(state.status)),
            ("Opportunity", state.opportunity_id),
            ("Contract", state.contract_id or "-"),
            ("Total contract value", output.money(state.total_contract_value)),
            ("Started", output.when(summary.started_at)),
            ("Why approval", [f"- {reason.message}" for reason in state.approval_reasons]),
            ("Approve", q2c_command(settings, "approve", summary.workflow_id, "--as", "USER", "--note", "TEXT")),
            ("Reject", q2c_command(settings, "reject", summary.workflow_id, "--as", "USER", "--note", "WHY")),
            ("Temporal UI", ui_link(settings, summary.workflow_id)),
        ]
        for line in output.fields(rows):
            output.say(line)
    return 0


# --- approve, reject, resubmit -------------------------------------------------------------------------


async def approve(args: argparse.Namespace) -> int:
    return await _decide(args, approved=True)


async def reject(args: argparse.Namespace) -> int:
    if not args.note.strip():
        raise CliError("a rejection needs a --note saying why (the deal owner reads it in the CRM)")
    return await _decide(args, approved=False)


async def _decide(args: argparse.Namespace, *, approved: bool) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    workflow_id = saga_id(args.saga)
    decision = ApprovalDecision(approver=args.user, approved=approved, note=args.note or "")
    try:
        recorded = await decide(client, workflow_id, decision)
    except RPCError as error:
        raise (not_found(error, workflow_id, settings) or error) from None
    made = recorded.decision
    verdict = "Approved" if made.approved else "Rejected"
    note = f": {made.note}" if made.note else ""
    output.say(f"{verdict} {workflow_id} as {made.approver} at {output.when(recorded.decided_at)}{note}")
    follow_up = "continues provisioning" if made.approved else "ends rejected and tells the CRM"
    output.say(f"The saga {follow_up}; follow it with `{q2c_command(settings, 'show', workflow_id)}`")
    return 0


async def resubmit_saga(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    workflow_id = saga_id(args.saga)
    try:
        answer = await resubmit(client, workflow_id, Resubmission(requested_by=args.user, note=args.note or ""))
    except RPCError as error:
        raise (not_found(error, workflow_id, settings) or error) from None
    output.say(f"Saga {workflow_id}: {answer}; it reads the deal from the CRM again")
    output.say(f"Follow it with `{q2c_command(settings, 'show', workflow_id)}`")
    return 0
