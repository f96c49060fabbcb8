"""Reconciliation: billing vs the ERP's AR postings, the ERP's open AR vs billing's payment status, and the ERP's
GL balances vs the revenue engine's, for a span of billing days.

Steps: open the run in q2c's database → read billing, the ERP and both ledgers' balances, each pull staging what
it read (in parallel: three systems, three activities) → match the staged rows with set-based SQL and open an
exception case (reconciliation_break, controllership) per break. Every step is idempotent, so any may be
retried. Started on demand (`q2c recon run`) or by its daily Temporal Schedule (`q2c recon schedule`), whose runs
carry no days and so reconcile the day before they start.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconciliation import ReconciliationActivities, RunStart, StagingRequest
    from canonical.reconciliation import ReconciliationRequest, ReconciliationRun, reconciliation_label

PULL_TIMEOUT = timedelta(minutes=30)  # a bulk read of millions of documents takes a while on a real vendor
RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))


@workflow.defn(name="Reconciliation")
class Reconciliation:
    @workflow.run
    async def run(self, request: ReconciliationRequest) -> ReconciliationRun:
        first_day, last_day = request.resolved(workflow.now().date())
        label = reconciliation_label(first_day, last_day)
        info = workflow.info()
        run_id = await workflow.execute_activity_method(
            ReconciliationActivities.start_reconciliation_run,
            RunStart(
                workflow_id=info.workflow_id,
                run_key=f"{info.workflow_id}/{info.run_id}",
                first_day=first_day,
                last_day=last_day,
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RETRY,
            summary=f"Open the reconciliation run for {label}",
        )
        staging = StagingRequest(run_id=run_id, first_day=first_day, last_day=last_day)
        await asyncio.gather(
            self._pull(
                ReconciliationActivities.stage_billing_documents, staging, f"Read billing's documents of {label}"
            ),
            self._pull(ReconciliationActivities.stage_erp_postings, staging, f"Read the ERP's AR postings of {label}"),
            self._pull(ReconciliationActivities.stage_ledger_balances, staging, "Read the ERP's and engine's balances"),
        )
        return await workflow.execute_activity_method(
            ReconciliationActivities.match_and_file_breaks,
            run_id,
            start_to_close_timeout=PULL_TIMEOUT,
            retry_policy=RETRY,
            summary="Match (set-based SQL) and file an exception case per break",
        )

    @staticmethod
    async def _pull(activity: object, staging: StagingRequest, summary: str) -> int:
        result: int = await workflow.execute_activity_method(
            activity,  # type: ignore[call-overload]
            staging,
            start_to_close_timeout=PULL_TIMEOUT,
            retry_policy=RETRY,
            summary=summary,
        )
        return result
