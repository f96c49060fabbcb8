"""Commands on the invoice → revenue, payment-settled and period-close sagas: close a period, retry a parked
step, choose the period for a document dated in a closed one."""

from __future__ import annotations

import argparse

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from canonical.invoice_saga import PeriodCloseState, PeriodDecision
from canonical.saga import Resubmission, SagaStatus
from cli import output
from cli.context import Globals, connect, not_found, ui_link
from workflows.invoice_client import choose_period, retry_parked, start_period_close


async def close_period(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    policy, settings = options.policy(), options.settings()
    client = await connect(settings)
    started = await start_period_close(client, args.period, policy, settings.task_queue)
    workflow_id = started.handle.id
    output.say(f"Closing {args.period:%Y-%m}: saga {workflow_id}")
    output.say(f"  Temporal UI  {ui_link(settings, workflow_id)}")
    if not args.wait:
        return 0
    try:
        state = PeriodCloseState.model_validate(await started.handle.result())
    except WorkflowFailureError as failure:
        output.error(f"the close of {args.period:%Y-%m} failed: {failure.cause}")
        return 1
    for journal in state.journals:
        output.say(f"  ERP journal {journal.internal_id}  {journal.external_id}  {journal.total}")
    output.say(f"{args.period:%Y-%m} closed ({state.status.value}); {len(state.journals)} journal(s) in the ERP")
    return 0 if state.status is SagaStatus.COMPLETED else 1


async def retry(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    try:
        answer = await retry_parked(client, args.saga, Resubmission(requested_by=args.user, note=args.note or ""))
    except RPCError as error:
        raise (not_found(error, args.saga, settings) or error) from None
    output.say(f"Saga {args.saga}: {answer}; it runs its parked step again")
    output.say(f"  Temporal UI  {ui_link(settings, args.saga)}")
    return 0


async def period_choice(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    client = await connect(settings)
    decision = PeriodDecision(decided_by=args.user, period_id=args.period_id, note=args.note or "")
    try:
        answer = await choose_period(client, args.saga, decision)
    except RPCError as error:
        raise (not_found(error, args.saga, settings) or error) from None
    output.say(f"Saga {args.saga}: {answer}; it posts there")
    output.say(f"  Temporal UI  {ui_link(settings, args.saga)}")
    return 0
