"""q2c's own Reconciliation workflow, run by the campaign over the days its invoices were issued; its breaks by
kind, or the reason it could not run (the campaign then relies on its own invoice check)."""

from __future__ import annotations

import asyncio
from datetime import date

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from canonical.reconciliation import ReconciliationRequest
from cli.chaos.stack import CampaignStack
from workflows.reconciliation_client import start_reconciliation

RECONCILIATION_TIMEOUT_SECONDS = 90.0


async def reconcile(stack: CampaignStack, first_day: date, last_day: date) -> dict[str, int] | str:
    """Breaks by kind (empty: clean), or why the run failed."""
    try:
        handle = await start_reconciliation(
            stack.client, ReconciliationRequest(first_day=first_day, last_day=last_day), stack.task_queue
        )
        run = await asyncio.wait_for(handle.result(), RECONCILIATION_TIMEOUT_SECONDS)
    except (RPCError, WorkflowFailureError, TimeoutError) as error:
        return f"q2c's reconciliation did not run: {type(error).__name__}: {error}"
    return {str(kind): count for kind, count in run.breaks_by_kind.items() if count}
