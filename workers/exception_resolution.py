"""Resolving an exception case: the saga it belongs to is moved on, and the store records who did it and why.

One function for the CLI (`q2c cases resolve`) and the finance console, so both behave alike:

- `retry` or `resume`: the saga's own resume Update — closed-won's `resubmit` (read the fixed deal again),
  every other saga's `retry` (run the parked step again);
- `compensate`: the saga is cancelled — closed-won and amendments undo what they did; the invoice, payment and
  close sagas have nothing to undo and just end;
- `dismiss`: nothing — the case is closed in the store only (the saga has ended, or the case was opened in error).

The saga is asked first: if it refuses (it has ended, or is no longer parked), nothing is recorded and
`SagaActionRefused` says why. The parked saga also closes the case itself when it resumes, with the same who and
why, so whichever of the two records first stands.
"""

from __future__ import annotations

import contextlib

from temporalio.client import Client

from activities.exception_queue import resolution_audit_key
from adapters.store.errors import AuditKeyConflict, CaseClosed
from adapters.store.records import AuditEntry, AuditEventKind, CaseAction, CaseStatus, ExceptionCase
from adapters.store.store import OperationalStore
from canonical.saga import Resubmission
from workflows.closed_won import WORKFLOW_ID_PREFIX
from workflows.closed_won_client import refusals_explained


async def resolve_exception_case(
    client: Client | None, store: OperationalStore, case_id: int, action: CaseAction, by: str, reason: str
) -> ExceptionCase:
    """Resolve case `case_id` with `action` as `by` because `reason`; the case as closed. `client` may be None
    only to dismiss (which leaves the saga alone).

    Raises `CaseNotFound`, `CaseClosed` (closed already, differently), `SagaActionRefused` (the saga refused),
    or `ValueError` for an empty `by` or `reason`.
    """
    action = CaseAction(action)
    if not by.strip() or not reason.strip():
        raise ValueError("resolving a case needs who (by) and why (reason)")
    case = await store.case(case_id)
    if case.status is not CaseStatus.OPEN:
        return await store.resolve_case(case_id, by, action, reason)  # a repeat returns it; otherwise CaseClosed
    await _move_saga_on(client, case.workflow_id, action, by, reason)
    try:
        resolved = await store.resolve_case(case_id, by, action, reason)
    except CaseClosed:
        resolved = await store.case(case_id)  # the resumed saga closed it first, with the same who and why
    await _record_resolution(store, resolved, action, by, reason)
    return resolved


async def _move_saga_on(client: Client | None, workflow_id: str, action: CaseAction, by: str, reason: str) -> None:
    if action is CaseAction.DISMISS:
        return
    if client is None:
        raise ValueError(f"to {action.value} a case, q2c needs a Temporal client to reach saga {workflow_id}")
    handle = client.get_workflow_handle(workflow_id)
    async with refusals_explained(handle):
        if action is CaseAction.COMPENSATE:
            await handle.cancel()
        else:
            update = "resubmit" if workflow_id.startswith(WORKFLOW_ID_PREFIX) else "retry"
            await handle.execute_update(update, Resubmission(requested_by=by, note=reason), result_type=str)


async def _record_resolution(
    store: OperationalStore, case: ExceptionCase, action: CaseAction, by: str, reason: str
) -> None:
    entry = AuditEntry(
        kind=AuditEventKind.EXCEPTION_RESOLVED,
        workflow_id=case.workflow_id,
        correlation_id=case.workflow_id,
        actor=by,
        note=f"case {case.id} {action.value}: {reason}",
        idempotency_key=resolution_audit_key(case.id),
    )
    with contextlib.suppress(AuditKeyConflict):  # the saga recorded the resolution first
        await store.append_audit(entry)
