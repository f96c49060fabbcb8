"""Temporal Cloud's billable Actions in one workflow history, by the rules Temporal publishes.

Source: "Temporal Cloud Actions", https://docs.temporal.io/cloud/actions (temporalio/documentation,
docs/evaluate/temporal-cloud/actions.mdx, read November 2026). The rules applied, per history event:

- workflow started (client start, Continue-As-New's new run, child workflow): 1. `WORKFLOW_EXECUTION_STARTED`
  counts 1 (a de-duplicated start that shares a workflow ID counts nothing and leaves no history);
- activity started or retried: 1 per attempt. The server writes `ACTIVITY_TASK_STARTED` once per activity, with
  the attempt that ended it, so that event counts `attempt`;
- local activities: all `core_local_activity` markers of one workflow task count 1;
- timer started (including the implicit timer of `workflow.wait_condition(timeout=...)`): 1;
- search attribute upsert: 1 per `UPSERT_WORKFLOW_SEARCH_ATTRIBUTES` command, however many attributes it sets
  (attributes set at start are free);
- signal: 1 per signal received (`WORKFLOW_EXECUTION_SIGNALED`) and 1 per signal a workflow sends
  (`SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED`) — counted where it happens, so a signal between two sagas
  appears in both histories and a total across histories would count it twice;
- update: 1 per accepted update (`WORKFLOW_EXECUTION_UPDATE_ACCEPTED`); a rejected update is billed too but
  leaves no history, so it is not counted here;
- child workflow: 2 per `START_CHILD_WORKFLOW_EXECUTION_INITIATED`;
- workflow execution options updated: 1.

Not in any history, so not counted: queries (`q2c show`, the UI's stack trace view), activity heartbeats
(q2c's activities do not heartbeat), rejected updates, schedules, export. Workflow tasks, activity completions
and timer firings are free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

PREFIX = "EVENT_TYPE_"
ONE_EACH = {
    "WORKFLOW_EXECUTION_STARTED": "workflow_start",
    "TIMER_STARTED": "timer",
    "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES": "search_attribute_upsert",
    "WORKFLOW_EXECUTION_SIGNALED": "signal",
    "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED": "signal",
    "WORKFLOW_EXECUTION_UPDATE_ACCEPTED": "update",
    "WORKFLOW_EXECUTION_OPTIONS_UPDATED": "options_update",
}
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def event_type(event: Mapping[str, Any]) -> str:
    """`ACTIVITY_TASK_STARTED` from `EVENT_TYPE_ACTIVITY_TASK_STARTED` (the proto JSON form of a history)."""
    return str(event["eventType"]).removeprefix(PREFIX)


def billable_actions(events: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Actions by kind (workflow_start, activity, timer, ...) for one history's events, in order."""
    actions: Counter[str] = Counter()
    marker_tasks: set[str] = set()
    for event in events:
        kind = event_type(event)
        if kind in ONE_EACH:
            actions[ONE_EACH[kind]] += 1
        elif kind == "ACTIVITY_TASK_STARTED":
            actions["activity"] += int(event["activityTaskStartedEventAttributes"].get("attempt", 1))
        elif kind == "START_CHILD_WORKFLOW_EXECUTION_INITIATED":
            actions["child_workflow"] += 2
        elif kind == "MARKER_RECORDED":
            attributes = event["markerRecordedEventAttributes"]
            if attributes.get("markerName") == LOCAL_ACTIVITY_MARKER:
                marker_tasks.add(str(attributes.get("workflowTaskCompletedEventId")))
    if marker_tasks:
        actions["local_activity"] = len(marker_tasks)
    return dict(actions)


def activity_count(events: Sequence[Mapping[str, Any]]) -> int:
    """Activities the workflow scheduled (what a bare workflow of the same shape would run)."""
    return sum(1 for event in events if event_type(event) == "ACTIVITY_TASK_SCHEDULED")


def bare_history_events(activities: int) -> int:
    """Events of a workflow that runs `activities` no-op activities one after the other and nothing else: started
    + (activities + 1) workflow tasks of 3 events + 3 per activity + completed (`bench.bare_workflow`)."""
    return 1 + 3 * (activities + 1) + 3 * activities + 1


def bare_actions(activities: int) -> int:
    """That bare workflow's Actions: its start and one per activity."""
    return 1 + activities
