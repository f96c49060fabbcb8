"""Closed-won saga throughput and latency against a bare Temporal workflow with as many no-op activities.

    python -m bench.saga_throughput [--sagas 200] [--concurrency 10 50] [--state-dir .q2c/bench]

Both run on the same dev server (SQLite file with the WAL pragmas, as `q2c dev` runs it) and the same worker
process, one after the other, so the ratio survives a noisy machine. The closed-won saga runs on the in-memory
systems: this measures orchestration cost (Temporal round trips, payload conversion, search attribute upserts),
not vendor latency. Prints a table and one JSON line. Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from adapters.memory.reference_deals import reference_deal
from adapters.memory.systems import InMemorySystems
from bench.bare_workflow import BareWorkflow, do_nothing
from workers.closed_won_worker import WORKFLOWS, closed_won_activities
from workers.config_files import load_mapping_rules, load_saga_policy
from workers.dev_server import DevServerOptions, TemporalDevServer, free_port
from workflows.closed_won_client import start_closed_won

CLOSED_WON_ACTIVITIES = 7  # read deal, map, ERP customer, billing customer, subscription, revenue, CRM write-back


@dataclass(frozen=True)
class Figures:
    saga: str
    concurrency: int
    sagas: int
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    history_events: int


async def run_batch(
    count: int, concurrency: int, start_one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(index: int) -> None:
        async with gate:
            began = time.perf_counter()
            await start_one(index)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - began, latencies


def figures(saga: str, concurrency: int, seconds: float, latencies: Sequence[float], events: int) -> Figures:
    cuts = statistics.quantiles([x * 1000 for x in latencies], n=100)
    return Figures(
        saga,
        concurrency,
        len(latencies),
        round(seconds, 2),
        round(len(latencies) / seconds, 1),
        round(cuts[49], 1),
        round(cuts[94], 1),
        round(cuts[98], 1),
        events,
    )


async def measure(client: Client, queue: str, systems: InMemorySystems, sagas: int, concurrency: int) -> list[Figures]:
    policy, run_id = load_saga_policy(), uuid.uuid4().hex[:6]
    deal = reference_deal()

    async def closed_won(index: int) -> None:
        opportunity = f"BENCH{run_id}{concurrency:03d}{index:05d}"
        systems.crm.save_deal(
            deal.model_copy(update={"opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity})})
        )
        started = await start_closed_won(client, opportunity, policy, queue)
        await started.handle.result()

    async def bare(index: int) -> None:
        await client.execute_workflow(
            BareWorkflow.run, CLOSED_WON_ACTIVITIES, id=f"bench-bare-{run_id}-{concurrency}-{index}", task_queue=queue
        )

    bare_seconds, bare_latencies = await run_batch(sagas, concurrency, bare)
    q2c_seconds, q2c_latencies = await run_batch(sagas, concurrency, closed_won)
    bare_events = len((await client.get_workflow_handle(f"bench-bare-{run_id}-{concurrency}-0").fetch_history()).events)
    q2c_events = len(
        (await client.get_workflow_handle(f"closed-won/BENCH{run_id}{concurrency:03d}00000").fetch_history()).events
    )
    return [
        figures("bare", concurrency, bare_seconds, bare_latencies, bare_events),
        figures("closed_won", concurrency, q2c_seconds, q2c_latencies, q2c_events),
    ]


COLUMNS = (
    ("saga", "<11"),
    ("conc", ">4"),
    ("sagas", ">5"),
    ("secs", ">7"),
    ("per s", ">7"),
    ("p50 ms", ">8"),
    ("p95 ms", ">8"),
    ("p99 ms", ">8"),
    ("events", ">6"),
)


def print_table(rows: Sequence[Figures]) -> None:
    header = " ".join(f"{name:{align}}" for name, align in COLUMNS)
    print(header)
    print("-" * len(header))
    for row in rows:
        values = (
            row.saga,
            row.concurrency,
            row.sagas,
            row.seconds,
            row.per_second,
            row.p50_ms,
            row.p95_ms,
            row.p99_ms,
            row.history_events,
        )
        print(" ".join(f"{value:{align}}" for value, (_, align) in zip(values, COLUMNS, strict=True)))


async def main(args: argparse.Namespace) -> None:
    shutil.rmtree(args.state_dir, ignore_errors=True)
    options = DevServerOptions(state_dir=args.state_dir, port=free_port(), ui_port=free_port())
    async with TemporalDevServer(options) as server:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        systems, queue = InMemorySystems(), f"bench-{uuid.uuid4()}"
        activities = [*closed_won_activities(systems.ports(), load_mapping_rules()), do_nothing]
        async with Worker(client, task_queue=queue, workflows=[*WORKFLOWS, BareWorkflow], activities=activities):
            rows = [row for c in args.concurrency for row in await measure(client, queue, systems, args.sagas, c)]
    print_table(rows)
    summary = {}
    for c in args.concurrency:
        bare, q2c = (next(r for r in rows if r.saga == s and r.concurrency == c) for s in ("bare", "closed_won"))
        summary[f"c{c}"] = {
            "throughput_ratio": round(q2c.per_second / bare.per_second, 2),
            "history_events_ratio": round(q2c.history_events / bare.history_events, 2),
        }
        print(
            f"concurrency {c}: closed_won runs at {summary[f'c{c}']['throughput_ratio']}x the bare ceiling, "
            f"with {summary[f'c{c}']['history_events_ratio']}x its history events (targets: >= 0.8x, <= 1.25x)"
        )
    print(json.dumps({"benchmark": "saga_throughput", "rows": [asdict(r) for r in rows], "summary": summary}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=200, help="sagas per type and concurrency (default 200)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50], help="sagas in flight (default 10 50)")
    parser.add_argument("--state-dir", type=Path, default=Path(".q2c/bench"), help="dev server state (deleted first)")
    asyncio.run(main(parser.parse_args()))
