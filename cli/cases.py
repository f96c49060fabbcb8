"""`q2c cases`: the exception queue (cases opened by parked sagas) and resolving a case, which moves its saga on."""

from __future__ import annotations

import argparse

from temporalio.service import RPCError

from adapters.store.errors import CaseClosed, CaseNotFound
from adapters.store.records import CaseAction, CaseStatus, ExceptionCase, OwnerRole
from canonical.problems import ExceptionCategory
from cli import output
from cli.context import CliError, Globals, connect, not_found, ui_link
from cli.store_access import opened_store
from workers.exception_resolution import resolve_exception_case


async def list_cases(args: argparse.Namespace) -> int:
    category = None if args.category is None else ExceptionCategory(args.category)
    owner = None if args.owner is None else OwnerRole(args.owner)
    async with opened_store(args.database) as store:
        cases = await store.open_cases(category=category, owner=owner)
    if not cases:
        output.say("No open exception cases.")
        return 0
    rows = [_row(case) for case in cases]
    for line in output.table(["CASE", "CATEGORY", "AT RISK", "OWNER", "OPENED", "SAGA"], rows):
        output.say(line)
    output.say()
    for case in cases:
        output.say(f"case {case.id}: {case.description}")
    output.say()
    output.say(
        "Resolve one with `q2c cases resolve CASE --action retry|resume|compensate|dismiss --as USER --reason ...`"
    )
    return 0


def _row(case: ExceptionCase) -> list[str]:
    opened = output.when(case.opened_at)
    return [
        str(case.id),
        case.category.value,
        output.money(case.amount_at_risk),
        case.owner.value,
        opened,
        case.workflow_id,
    ]


async def resolve(args: argparse.Namespace) -> int:
    settings = Globals.from_args(args).settings()
    action = CaseAction(args.action)
    async with opened_store(args.database) as store:
        try:
            current = await store.case(args.case_id)
            reaches_saga = action is not CaseAction.DISMISS and current.status is CaseStatus.OPEN
            client = await connect(settings) if reaches_saga else None  # a closed case needs no Temporal
            case = await resolve_exception_case(client, store, args.case_id, action, args.user, args.reason)
        except (CaseNotFound, CaseClosed) as error:
            raise CliError(f"{error} (list the open ones with `q2c cases`)", code=1) from None
        except ValueError as error:
            raise CliError(str(error)) from None
        except RPCError as error:
            workflow_id = (await store.case(args.case_id)).workflow_id
            raise (not_found(error, workflow_id, settings) or error) from None
    output.say(f"Case {case.id} {case.status.value} ({action.value}) by {args.user}: {args.reason}")
    output.say(f"  saga         {case.workflow_id}: {_saga_effect(action)}")
    if action is not CaseAction.DISMISS:
        output.say(f"  Temporal UI  {ui_link(settings, case.workflow_id)}")
    return 0


def _saga_effect(action: CaseAction) -> str:
    return {
        CaseAction.RETRY: "runs its parked step again",
        CaseAction.RESUME: "runs its parked step again",
        CaseAction.COMPENSATE: "cancelled (closed-won and amendment sagas undo what they created)",
        CaseAction.DISMISS: "untouched (the case is closed in the store only)",
    }[action]
