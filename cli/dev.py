"""`q2c dev` (dev server + embedded worker) and `q2c worker` (a worker against any Temporal)."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from adapters.memory.reference_deals import INCOMPLETE_OPPORTUNITY, NON_STANDARD_OPPORTUNITY, reference_deal
from adapters.memory.systems import InMemorySystems
from canonical.mapping_rules import MappingRules
from cli import output
from cli.context import IN_MEMORY_NOTE, CliError, Globals, connect, q2c_command, seeded_systems
from workers.closed_won_worker import build_worker
from workers.dev_server import DevServerFailedToStart, DevServerOptions, TemporalDevServer
from workers.search_attribute_check import check_search_attributes
from workers.temporal_settings import TemporalSettings

DEV_IP = "127.0.0.1"
PORT_HINT = "choose free ports with --port and --ui-port"


@dataclass(frozen=True)
class Stack:
    """A running dev server with a closed-won worker on it, bound to in-memory systems."""

    server: TemporalDevServer
    settings: TemporalSettings
    client: Client
    systems: InMemorySystems


def dev_server_options(args: argparse.Namespace, namespace: str) -> DevServerOptions:
    if args.address:
        raise CliError(
            f"`q2c {args.command}` runs its own Temporal dev server on {DEV_IP}; "
            "--address does not apply (choose its ports with --port and --ui-port)"
        )
    return DevServerOptions(
        state_dir=Path(args.state_dir), ip=DEV_IP, port=args.port, ui_port=args.ui_port, namespace=namespace
    )


def ports_in_use(opts: DevServerOptions) -> list[str]:
    taken = []
    for role, port in (("gRPC", opts.port), ("UI", opts.ui_port)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((opts.ip, port))
            except OSError:
                taken.append(f"{port} ({role})")
    return taken


def require_free_ports(opts: DevServerOptions) -> None:
    """Fail before touching the state dir when the ports are taken (perhaps by a server using that dir)."""
    if opts.port == opts.ui_port:
        raise CliError(f"--port and --ui-port are both {opts.port}; {PORT_HINT}")
    taken = ports_in_use(opts)
    if taken:
        raise DevServerFailedToStart(
            f"Temporal dev server not started: port {' and '.join(taken)} on {opts.ip} is already in use, "
            f"probably by another Temporal dev server (a `q2c dev` or `q2c demo` still running?); "
            f"stop it or {PORT_HINT}"
        )


@asynccontextmanager
async def embedded_stack(opts: DevServerOptions, task_queue: str, rules: MappingRules) -> AsyncIterator[Stack]:
    """Start the dev server, check its search attributes, run a worker on seeded in-memory systems."""
    require_free_ports(opts)
    output.configure_worker_logging()
    server = TemporalDevServer(opts)
    try:
        await server.start()  # stops the server itself if it fails
    except DevServerFailedToStart as error:
        lines = str(error).splitlines() or [""]
        if "already in use" in str(error) and "--port" not in str(error):
            lines[0] += f" ({PORT_HINT})"
        raise DevServerFailedToStart("\n".join(lines)) from None
    try:
        settings = TemporalSettings(
            address=server.address, namespace=opts.namespace, task_queue=task_queue, ui_url=server.ui_url
        )
        client = await connect(settings)
        await check_search_attributes(client, opts.namespace)
        systems = seeded_systems()
        async with build_worker(client, task_queue, systems.ports(), rules):
            yield Stack(server, settings, client, systems)
    finally:
        await server.stop()


def seeded_opportunities() -> list[str]:
    reference = reference_deal()
    return [
        f"{reference.opportunity.opportunity_id}  {reference.account.name}: the reference deal (standard terms)",
        f"{NON_STANDARD_OPPORTUNITY}  Contoso Robotics Inc.: non-standard (30% discount, 60-day terms), "
        "needs finance approval",
        f"{INCOMPLETE_OPPORTUNITY}  Fabrikam Labs Inc.: incomplete (no tax ID, no billing contact), "
        "parks in needs attention",
    ]


async def run_until_interrupted(stopping: str) -> None:
    """Wait for Ctrl-C (or SIGTERM); say what is being stopped while the caller's contexts unwind."""
    try:
        await asyncio.Event().wait()
    finally:
        output.say(f"Stopping {stopping} ...")


# --- q2c dev -------------------------------------------------------------------------------------------


async def dev(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    base = options.settings()
    opts = dev_server_options(args, base.namespace)
    rules = options.rules()  # a bad file stops here, before the server starts
    had_state = opts.db_file.exists()
    require_free_ports(opts)
    output.say(f"Starting the Temporal dev server on {opts.ip}:{opts.port} (state in {opts.state_dir}) ...")
    async with embedded_stack(opts, base.task_queue, rules) as stack:
        settings = stack.settings
        reference = reference_deal().opportunity.opportunity_id
        rows: list[output.Row] = [
            ("Temporal gRPC", settings.address),
            ("Temporal UI", settings.ui_url),
            ("Namespace", settings.namespace),
            ("Task queue", settings.task_queue),
            ("State dir", str(opts.state_dir.resolve())),
            ("SQLite file", str(opts.db_file.resolve()) + (" (sagas from earlier runs kept)" if had_state else "")),
            ("Server log", str(opts.log_file.resolve())),
            ("Mapping rules", f"version {rules.version} ({options.rules_path()})"),
            ("Seeded opportunities", seeded_opportunities()),
        ]
        output.say("q2c dev is up: a Temporal dev server and a closed-won worker.")
        for line in output.fields(rows):
            output.say(line)
        for line in output.wrapped(f"Note: {IN_MEMORY_NOTE}", indent="  "):
            output.say(line)
        if had_state:
            output.say("  The SQLite file keeps sagas across restarts; the in-memory systems start empty every time.")
        output.say("Try, from another terminal:")
        for args_ in (
            ("start", "closed-won", reference, "--wait"),
            ("start", "closed-won", NON_STANDARD_OPPORTUNITY),
            ("approvals",),
            ("approve", NON_STANDARD_OPPORTUNITY, "--as", "fiona.finance", "--note", "approved for Q1"),
            ("start", "closed-won", INCOMPLETE_OPPORTUNITY),
            ("sagas", "--stuck"),
            ("show", INCOMPLETE_OPPORTUNITY),
        ):
            output.say(f"  {q2c_command(settings, *args_)}")
        output.say("Running until Ctrl-C.")
        await run_until_interrupted("the worker and the Temporal dev server")
    return 0


# --- q2c worker ----------------------------------------------------------------------------------------


async def worker(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    settings = options.settings()
    rules = options.rules()
    client = await connect(settings)
    await check_search_attributes(client, settings.namespace)
    output.configure_worker_logging()
    systems = seeded_systems()
    async with build_worker(client, settings.task_queue, systems.ports(), rules):
        output.say("q2c worker is running the closed-won saga.")
        rows: list[output.Row] = [
            ("Temporal", settings.address),
            ("Namespace", settings.namespace),
            ("Task queue", settings.task_queue),
            ("Mapping rules", f"version {rules.version} ({options.rules_path()})"),
            ("Seeded opportunities", seeded_opportunities()),
        ]
        for line in output.fields(rows):
            output.say(line)
        for line in output.wrapped(f"Note: {IN_MEMORY_NOTE}", indent="  "):
            output.say(line)
        output.say("Running until Ctrl-C.")
        await run_until_interrupted("the worker")
    return 0
