"""Saga throughput and latency, end to end, against a bare Temporal workflow with as many no-op activities.

    python -m bench.saga_throughput [--systems sandbox|memory] [--sagas 50] [--concurrency 5 20]

With `--systems sandbox` (the default) each closed-won saga reads its deal from the Salesforce emulator and
creates the NetSuite customer, the Stripe customer and subscription and the revenue contract over HTTP; then
each subscription's first invoice runs an invoice → revenue saga (NetSuite posting, revenue engine on SQLite,
Stripe acknowledgement). The emulators run in a process of their own (`bench.vendor_process`). `--systems
memory` runs closed-won only, on the in-memory systems: orchestration cost without any vendor.

For each saga type and concurrency, the same run measures the ceiling first: `bench.bare_workflow` with the same
number of no-op activities as that saga runs (counted from a warm-up saga's history), on the same dev server
(SQLite with the WAL pragmas, as `q2c dev` runs it) and in the same worker process. The saga's throughput is
reported as a fraction of that ceiling (target >= 0.8x) and its history events against the bare workflow's
(target <= 1.25x); a missed target says by how much. Where the time goes: the CPU each process used during each
batch (this one: client, worker, adapters, revenue engine; the Temporal dev server; the emulators), per saga and
in cores. Billable Actions per saga follow Temporal Cloud's rules (`bench.billable_actions`). Prints a table
and one JSON line; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from adapters.memory.systems import InMemorySystems
from adapters.store.database import sqlite_url
from bench.bare_workflow import BareWorkflow, do_nothing
from bench.billable_actions import activity_count, bare_history_events, billable_actions
from bench.closed_won_load import ClosedWonLoad, InMemoryClosedWon, SandboxClosedWon
from bench.figures import percentiles, print_json_line, print_table, run_batch
from bench.invoice_load import InvoiceLoad
from bench.process_cpu import CpuMeter, children_named
from bench.vendor_process import emulator_process
from sandbox.stack import seed_sandbox
from sandbox.stripe.api_client import create_test_clock
from workers.closed_won_worker import build_worker
from workers.config_files import load_mapping_rules, load_saga_policy
from workers.dev_server import DevServerOptions, TemporalDevServer, free_port
from workers.vendor_systems import sandbox_vendor_settings, vendor_systems

TARGET_THROUGHPUT = 0.8
TARGET_EVENTS = 1.25
CONTRACT_START = datetime(2027, 1, 1, tzinfo=UTC)  # the reference deal's start: its first invoice falls due then
COLUMNS = (
    "saga",
    "conc",
    "sagas",
    "secs",
    "per s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "events",
    "actions",
    "bench cpu ms",
    "temporal cpu ms",
    "emulators cpu ms",
)


class Load(Protocol):
    name: str

    def workflow_id(self, index: int) -> str: ...

    async def run_one(self, index: int) -> None: ...


@dataclass
class Rig:
    """What a run measures with: the client, the worker's task queue, the loads and the processes to watch."""

    client: Client
    task_queue: str
    closed_won: ClosedWonLoad
    invoices: InvoiceLoad | None
    meter: CpuMeter


async def history_figures(client: Client, workflow_id: str) -> dict[str, Any]:
    events = (await client.get_workflow_handle(workflow_id).fetch_history()).to_json_dict()["events"]
    actions = billable_actions(events)
    return {"events": len(events), "actions": sum(actions.values()), "activities": activity_count(events)}


async def timed(
    rig: Rig, saga: str, count: int, concurrency: int, run_one: Callable[[int], Awaitable[None]]
) -> dict[str, Any]:
    rig.meter.start()
    seconds, latencies = await run_batch(count, concurrency, run_one)
    cpu = rig.meter.since(seconds)
    row: dict[str, Any] = {
        "saga": saga,
        "conc": concurrency,
        "sagas": count,
        "secs": round(seconds, 2),
        "per s": round(count / seconds, 1),
        **{key.replace("_", " "): value for key, value in percentiles(latencies).items()},
    }
    for process, used in cpu.seconds.items():
        row[f"{process} cpu ms"] = round(used * 1000 / count, 1)
    row["cpu_cores"] = cpu.cores
    return row


async def bare_row(rig: Rig, activities: int, count: int, concurrency: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]

    async def one(index: int) -> None:
        await rig.client.execute_workflow(
            BareWorkflow.run, activities, id=f"bench-bare-{tag}-{index}", task_queue=f"{rig.task_queue}-bare"
        )

    row = await timed(rig, f"bare x{activities}", count, concurrency, one)
    return row | await history_figures(rig.client, f"bench-bare-{tag}-0")


async def saga_row(rig: Rig, load: Load, count: int, concurrency: int) -> dict[str, Any]:
    row = await timed(rig, load.name, count, concurrency, load.run_one)
    return row | await history_figures(rig.client, load.workflow_id(0))


async def warm_up(rig: Rig, first: int) -> dict[str, int]:
    """One saga of each type, untimed: connections open, code loaded, and their activity counts known."""
    await rig.closed_won.prepare(first, 1)
    await rig.closed_won.run_one(0)
    counts = {rig.closed_won.name: (await history_figures(rig.client, rig.closed_won.workflow_id(0)))["activities"]}
    if rig.invoices is not None:
        await rig.invoices.prepare(customers_of(rig.closed_won, first, 1))
        await rig.invoices.run_one(0)
        counts[rig.invoices.name] = (await history_figures(rig.client, rig.invoices.workflow_id(0)))["activities"]
    return counts


def customers_of(load: ClosedWonLoad, first: int, count: int) -> list[str]:
    return [load.results[n]["references"]["billing_customer_id"] for n in range(first, first + count)]


async def measure(rig: Rig, sagas: int, concurrencies: Sequence[int]) -> list[dict[str, Any]]:
    activities = await warm_up(rig, first=1)
    rows, first = [], 2
    for concurrency in concurrencies:
        await rig.closed_won.prepare(first, sagas)
        rows.append(await bare_row(rig, activities[rig.closed_won.name], sagas, concurrency))
        rows.append(await saga_row(rig, rig.closed_won, sagas, concurrency))
        if rig.invoices is not None:
            await rig.invoices.prepare(customers_of(rig.closed_won, first, sagas))
            rows.append(await bare_row(rig, activities[rig.invoices.name], sagas, concurrency))
            rows.append(await saga_row(rig, rig.invoices, sagas, concurrency))
        first += sagas
    return rows


def verdicts(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each saga row against the bare row just before it (same activities, same concurrency)."""
    summary = []
    for bare, saga in zip(rows[::2], rows[1::2], strict=True):
        throughput = saga["per s"] / bare["per s"]
        events = saga["events"] / bare["events"]
        summary.append(
            {
                "saga": saga["saga"],
                "concurrency": saga["conc"],
                "throughput_ratio": round(throughput, 2),
                "history_events_ratio": round(events, 2),
                "bare_events_expected": bare_history_events(saga["activities"]),
                # When the box is CPU-bound, throughput goes as 1 / CPU per saga: the ratio this predicts.
                "cpu_per_saga_ms": _cpu_ms(saga),
                "bare_cpu_per_saga_ms": _cpu_ms(bare),
                "cpu_predicted_ratio": round(_cpu_ms(bare) / _cpu_ms(saga), 2) if _cpu_ms(saga) else None,
                "throughput_target": _verdict(throughput, TARGET_THROUGHPUT, at_least=True),
                "history_events_target": _verdict(events, TARGET_EVENTS, at_least=False),
            }
        )
    return summary


def _cpu_ms(row: dict[str, Any]) -> float:
    """CPU milliseconds per saga across all the watched processes."""
    return round(sum(float(value) for key, value in row.items() if key.endswith("cpu ms")), 1)


def _verdict(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return "met" if met else f"missed by {abs(value - target):.3f} ({value:.3f}x against {target}x)"


def report(rows: Sequence[dict[str, Any]], systems: str, processes: Sequence[str]) -> None:
    columns = [c for c in COLUMNS if not c.endswith("cpu ms") or c.removesuffix(" cpu ms") in processes]
    print_table(rows, columns)
    print("\ncpu ms: CPU milliseconds per saga each process used during its batch; cores in the JSON line.")
    summary = verdicts(rows)
    for line in summary:
        print(
            f"{line['saga']} at concurrency {line['concurrency']}: {line['throughput_ratio']}x the bare ceiling "
            f"(target >= {TARGET_THROUGHPUT}x: {line['throughput_target']}), {line['history_events_ratio']}x its "
            f"history events (target <= {TARGET_EVENTS}x: {line['history_events_target']}); CPU per saga "
            f"{line['cpu_per_saga_ms']} ms against {line['bare_cpu_per_saga_ms']} ms bare, which alone would "
            f"allow {line['cpu_predicted_ratio']}x"
        )
    print_json_line(
        "saga_throughput",
        systems=systems,
        cores=os.cpu_count(),
        rows=[{key.replace(" ", "_"): value for key, value in row.items()} for row in rows],
        summary=summary,
    )


@asynccontextmanager
async def rig_for(args: argparse.Namespace, client: Client, server_pid: int) -> AsyncIterator[Rig]:
    rules, policy, queue = load_mapping_rules(), load_saga_policy(), f"bench-{uuid.uuid4()}"
    processes = {"bench": os.getpid(), "temporal": server_pid}
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(client, task_queue=f"{queue}-bare", workflows=[BareWorkflow], activities=[do_nothing])
        )
        if args.systems == "memory":
            systems = InMemorySystems()
            await stack.enter_async_context(build_worker(client, queue, systems.ports(), rules))
            load: ClosedWonLoad = InMemoryClosedWon(client, queue, policy, systems)
            yield Rig(client, queue, load, None, CpuMeter(processes))
            return
        emulators = await stack.enter_async_context(emulator_process(args.state_dir / "sandbox"))
        await seed_sandbox(emulators.sandbox, rules, ())
        billing = sandbox_vendor_settings(emulators.sandbox)[2]
        clock = await create_test_clock(billing, CONTRACT_START, name="q2c benchmark")
        settings = sandbox_vendor_settings(emulators.sandbox, stripe_test_clock=clock)
        database = sqlite_url(args.state_dir / "q2c.sqlite")
        systems_ports = await stack.enter_async_context(vendor_systems(*settings, rules, database))
        await stack.enter_async_context(build_worker(client, queue, systems_ports, rules))
        load = SandboxClosedWon(client, queue, policy, emulators.sandbox)
        invoices = InvoiceLoad(client, queue, policy, settings[2])
        yield Rig(client, queue, load, invoices, CpuMeter(processes | {"emulators": emulators.pid}))


async def main(args: argparse.Namespace) -> None:
    shutil.rmtree(args.state_dir, ignore_errors=True)
    options = DevServerOptions(state_dir=args.state_dir / "temporal", port=free_port(), ui_port=free_port())
    async with TemporalDevServer(options) as server:
        [server_pid] = children_named("temporal")
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        async with rig_for(args, client, server_pid) as rig:
            rows = await measure(rig, args.sagas, args.concurrency)
    processes = ["bench", "temporal"] + (["emulators"] if args.systems == "sandbox" else [])
    report(rows, args.systems, processes)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.saga_throughput",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--systems",
        choices=("sandbox", "memory"),
        default="sandbox",
        help="the emulators over HTTP (closed-won and invoice -> revenue), or in-memory systems (closed-won only)",
    )
    parser.add_argument("--sagas", type=int, default=50, help="sagas per type and concurrency (default 50)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[5, 20], help="sagas in flight (default 5 20)")
    parser.add_argument(
        "--state-dir", type=Path, default=Path(".q2c/bench"), help="dev server and emulator state (deleted first)"
    )
    return parser


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
