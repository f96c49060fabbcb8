"""The benchmark's ceiling: a workflow running N activities that do nothing, one after the other.

In its own module so the workflow sandbox imports nothing but Temporal for it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def do_nothing() -> None:
    return None


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, activities: int) -> None:
        for _ in range(activities):
            await workflow.execute_activity(do_nothing, start_to_close_timeout=timedelta(seconds=30))
