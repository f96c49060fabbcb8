"""Starting reconciliation: on demand for given days, and the daily Temporal Schedule.

A run on demand has the ID `reconciliation/<day>` (or `<first>..<last>`); running the same days again after it
finished starts a new run (a fresh look at the systems), while a run still going is joined rather than doubled.
The schedule (`reconciliation-daily`, 02:00 UTC by default) starts `Reconciliation` with no days, which
reconciles the day before; Temporal names each scheduled run after the schedule and its time.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from canonical.reconciliation import ReconciliationRequest, ReconciliationRun, reconciliation_workflow_id

SCHEDULE_ID = "reconciliation-daily"
SCHEDULED_WORKFLOW_ID = "reconciliation/scheduled"
DEFAULT_HOUR_UTC = 2
RUN_TIMEOUT = timedelta(hours=6)


async def start_reconciliation(
    client: Client, request: ReconciliationRequest, task_queue: str
) -> WorkflowHandle[object, ReconciliationRun]:
    if request.first_day is None or request.last_day is None:
        raise ValueError("an on-demand reconciliation names its days")
    return await client.start_workflow(
        "Reconciliation",
        request,
        id=reconciliation_workflow_id(request.first_day, request.last_day),
        task_queue=task_queue,
        result_type=ReconciliationRun,
        execution_timeout=RUN_TIMEOUT,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def daily_schedule(task_queue: str, hour_utc: int = DEFAULT_HOUR_UTC) -> Schedule:
    if not 0 <= hour_utc <= 23:
        raise ValueError(f"the schedule's hour must be 0 to 23 (UTC), not {hour_utc}")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            "Reconciliation",
            ReconciliationRequest(),
            id=SCHEDULED_WORKFLOW_ID,
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour_utc)], comment="daily, the day before")]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def create_daily_schedule_if_missing(client: Client, task_queue: str) -> bool:
    """At worker start-up: the daily schedule at the default hour, unless one exists (whatever its hour)."""
    try:
        await client.create_schedule(SCHEDULE_ID, daily_schedule(task_queue, DEFAULT_HOUR_UTC))
    except ScheduleAlreadyRunningError:
        return False
    return True


async def ensure_daily_schedule(client: Client, task_queue: str, hour_utc: int = DEFAULT_HOUR_UTC) -> bool:
    """Create the daily schedule, or bring an existing one to this hour and task queue; True if it was created."""
    schedule = daily_schedule(task_queue, hour_utc)
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(replace)
        return False
