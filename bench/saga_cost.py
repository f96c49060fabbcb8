"""Cost per saga: history events and Temporal Cloud billable Actions per saga type, from real histories.

    python -m bench.saga_cost                                   the committed histories in tests/histories
    python -m bench.saga_cost --history run.json                any history exported with `temporal workflow show`
    python -m bench.saga_cost --address 127.0.0.1:7233 --workflow-id closed-won/006NW0000000001   a live saga

Each saga is set against a bare workflow running the same number of no-op activities (its events and Actions
follow from the count, see `bench.billable_actions`). The counting rules and their source are in
`bench.billable_actions`. `q2c bench saga-throughput` prints the same figures for the sagas it runs live.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.billable_actions import activity_count, bare_actions, bare_history_events, billable_actions
from bench.figures import print_json_line, print_table

HISTORIES = Path(__file__).resolve().parents[1] / "tests" / "histories"
# The saga types of the issue, each with the committed history that shows it (recorded by the tests).
SAGA_HISTORIES = {
    "closed-won, standard": "closed_won_standard_deal",
    "closed-won, with approval": "closed_won_approved_deal",
    "closed-won, resubmitted": "closed_won_resubmitted_deal",
    "closed-won, compensated": "closed_won_compensated_deal",
    "invoice -> revenue": "invoice_to_revenue_after_a_worker_restart",
    "invoice -> revenue, parked + retried": "invoice_to_revenue_parked_and_retried",
    "credit note, period chosen": "credit_note_period_chosen_by_controllership",
    "payment settled": "payment_settled",
    "period close": "period_close",
    "amendment": "amendment_reference_expansion",
    "amendment, waits for an earlier one": "amendment_waiting_for_an_earlier_one",
}
COLUMNS = (
    "saga",
    "activities",
    "events",
    "bare events",
    "events x",
    "actions",
    "bare actions",
    "actions x",
    "$ per 1M sagas",
    "of which",
)
# Temporal Cloud's pay-as-you-go rate for Actions, USD per million (https://docs.temporal.io/cloud/pricing;
# volume tiers go down to 25): what a million sagas of a type cost in Actions, storage and support aside.
USD_PER_MILLION_ACTIONS = 50
DESIGN_CHOICES = (
    "workflow IDs come from business keys (opportunity, invoice, period), so a redelivered trigger is a "
    "de-duplicated start: no history, no Action",
    "search attributes are upserted only when the saga's status changes (the saga policy's "
    "search_attribute_updates = status_changes), everything that changed meanwhile in that one command: a "
    "saga that runs straight through upserts once, when it completes (every_step, the setting's default for "
    "sagas started before it existed, upserts once per step)",
    "every saga sets its type, status and business key in the start request, where they are free",
    "one activity per vendor call that matters; no polling activities, no heartbeats (activities are short)",
    "people are waited for with one wait_condition timer per wait, not a sleeping loop; decisions arrive as "
    "Updates (one Action, validated before they enter the history) instead of a signal plus a query",
    "permanent vendor errors are non-retryable (adapters.errors), so only transient errors cost retry Actions",
    "the contract sequencer continues as new every 100 turns, so its history (not its Actions) stays bounded",
)


def cost_row(saga: str, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One saga's figures against the bare workflow with as many activities."""
    activities = activity_count(events)
    actions = billable_actions(events)
    total = sum(actions.values())
    return {
        "saga": saga,
        "activities": activities,
        "events": len(events),
        "bare events": bare_history_events(activities),
        "events x": round(len(events) / bare_history_events(activities), 2),
        "actions": total,
        "bare actions": bare_actions(activities),
        "actions x": round(total / bare_actions(activities), 2),
        "$ per 1M sagas": total * USD_PER_MILLION_ACTIONS,
        "of which": " ".join(f"{kind}={count}" for kind, count in sorted(actions.items())),
        "by_kind": actions,
    }


def history_events(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["events"]
    return events


async def live_events(address: str, namespace: str, workflow_id: str) -> list[dict[str, Any]]:
    from temporalio.client import Client  # only the live option needs a connection

    client = await Client.connect(address, namespace=namespace)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events: list[dict[str, Any]] = history.to_json_dict()["events"]
    return events


async def rows_for(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.workflow_id:
        return [cost_row(wid, await live_events(args.address, args.namespace, wid)) for wid in args.workflow_id]
    if args.history:
        return [cost_row(path.stem, history_events(path)) for path in args.history]
    return [cost_row(saga, history_events(HISTORIES / f"{name}.json")) for saga, name in SAGA_HISTORIES.items()]


def report(rows: Sequence[dict[str, Any]]) -> None:
    print_table(rows, COLUMNS)
    print("\nevents x / actions x: the saga's history events and billable Actions over a bare workflow's with as")
    print("many no-op activities (target for events: <= 1.25x). What keeps them low:")
    for choice in DESIGN_CHOICES:
        print(f"  - {choice}")
    print_json_line(
        "saga_cost",
        rows=[{_json_key(key): value for key, value in row.items() if key != "of which"} for row in rows],
    )


def _json_key(column: str) -> str:
    return column.replace("$ per 1M sagas", "usd_per_million_sagas").replace(" ", "_")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.saga_cost",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--history", type=Path, nargs="+", metavar="FILE", help="history JSON files to cost instead")
    parser.add_argument("--workflow-id", nargs="+", metavar="ID", help="cost these live workflows (needs --address)")
    parser.add_argument("--address", default="127.0.0.1:7233", help="Temporal frontend (default 127.0.0.1:7233)")
    parser.add_argument("--namespace", default="default", help="Temporal namespace (default: default)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    report(asyncio.run(rows_for(parser().parse_args(argv))))


if __name__ == "__main__":
    main()
