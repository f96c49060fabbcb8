"""What `q2c dev` and `q2c demo` run locally: a Temporal dev server and a closed-won worker, bound either to
in-memory systems or to the vendor sandbox (the emulators, seeded, plus the Salesforce Outbound Message
receiver that starts sagas)."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client

from adapters.memory.systems import InMemorySystems
from adapters.ports import SystemPorts
from adapters.store.database import sqlite_url
from adapters.store.store import OperationalStore
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from cli import output
from cli.context import CliError, connect, seeded_systems
from cli.ports import require_distinct, require_free, taken
from cli.sandbox import OUTBOUND_PATH, port_options, port_roles, ports_of, seeded_sandbox
from cli.vendor_env import VendorSettings
from receiver.app import ReceiverSettings, create_receiver_app
from receiver.console import ConsoleSettings
from sandbox.servers import EmulatorFailedToStart, serve_apps
from sandbox.stack import RunningSandbox, SandboxOptions
from sandbox.stripe.api_client import create_test_clock
from sandbox.stripe.settings import WebhookEndpointSettings
from workers.closed_won_worker import build_worker
from workers.dev_server import DevServerFailedToStart, DevServerOptions, TemporalDevServer
from workers.search_attribute_check import check_search_attributes
from workers.temporal_settings import TemporalSettings
from workers.vendor_systems import DATABASE_FILE_NAME, IN_MEMORY_STORE, sandbox_vendor_settings, vendor_systems

STRIPE_WEBHOOK_PATH = "/stripe/webhooks"
# The development signing secret the Stripe emulator signs its webhooks with and the receiver checks.
SANDBOX_STRIPE_WEBHOOK_SECRET = "whsec_q2c_sandbox_development_only"
STRIPE_WEBHOOK_EVENTS = ("invoice.finalized", "invoice.paid", "credit_note.created")

DEV_IP = "127.0.0.1"
PORT_HINT = "choose free ports with --port and --ui-port"
SANDBOX_PORT_HINT = "choose free ports with --receiver-port, --salesforce-port, --stripe-port and --netsuite-port"


@dataclass(frozen=True)
class Stack:
    """A running dev server with a closed-won worker on it."""

    server: TemporalDevServer
    settings: TemporalSettings
    client: Client


@dataclass(frozen=True)
class MemoryStack(Stack):
    systems: InMemorySystems


@dataclass(frozen=True)
class VendorStack(Stack):
    sandbox: RunningSandbox
    sandbox_options: SandboxOptions
    receiver_url: str
    vendor_settings: VendorSettings
    systems: SystemPorts  # revenue: the built-in engine, in this process


def dev_server_options(args: argparse.Namespace, namespace: str) -> DevServerOptions:
    if args.address:
        raise CliError(
            f"`q2c {args.command}` runs its own Temporal dev server on {DEV_IP}; "
            "--address does not apply (choose its ports with --port and --ui-port)"
        )
    return DevServerOptions(
        state_dir=Path(args.state_dir), ip=DEV_IP, port=args.port, ui_port=args.ui_port, namespace=namespace
    )


def require_free_ports(opts: DevServerOptions) -> None:
    """Fail before touching the state dir when the ports are taken (perhaps by a server using that dir)."""
    if opts.port == opts.ui_port:
        raise CliError(f"--port and --ui-port are both {opts.port}; {PORT_HINT}")
    busy = taken(opts.ip, {"gRPC": opts.port, "UI": opts.ui_port})
    if busy:
        raise DevServerFailedToStart(
            f"Temporal dev server not started: port {' and '.join(busy)} on {opts.ip} is already in use, "
            f"probably by another Temporal dev server (a `q2c dev` or `q2c demo` still running?); "
            f"stop it or {PORT_HINT}"
        )


def require_free_sandbox_ports(args: argparse.Namespace, opts: DevServerOptions) -> None:
    """The receiver's and the emulators' ports: distinct from each other and from the dev server's, and free."""
    options = {"--port": opts.port, "--ui-port": opts.ui_port, "--receiver-port": args.receiver_port}
    require_distinct(options | port_options(args), SANDBOX_PORT_HINT)
    require_free(DEV_IP, {"receiver": args.receiver_port} | port_roles(args), SANDBOX_PORT_HINT)


def sandbox_options(args: argparse.Namespace, state_dir: Path) -> SandboxOptions:
    """The emulators keep their SQLite files next to the dev server's; Salesforce tells the receiver."""
    return SandboxOptions(
        state_dir=state_dir,
        host=DEV_IP,
        ports=ports_of(args),
        outbound_listener_url=f"http://{DEV_IP}:{args.receiver_port}{OUTBOUND_PATH}",
        stripe_webhooks=(
            WebhookEndpointSettings(
                url=f"http://{DEV_IP}:{args.receiver_port}{STRIPE_WEBHOOK_PATH}",
                secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
                enabled_events=STRIPE_WEBHOOK_EVENTS,
            ),
        ),
    )


@asynccontextmanager
async def temporal_stack(opts: DevServerOptions, task_queue: str) -> AsyncIterator[Stack]:
    """Start the dev server, connect, and check that it has q2c's search attributes."""
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
        yield Stack(server, settings, client)
    finally:
        await server.stop()


@asynccontextmanager
async def embedded_stack(opts: DevServerOptions, task_queue: str, rules: MappingRules) -> AsyncIterator[MemoryStack]:
    """The dev server and a worker on seeded in-memory systems."""
    async with temporal_stack(opts, task_queue) as stack:
        systems = seeded_systems()
        # The operational store lives in memory too, as long as the systems do.
        async with (
            await OperationalStore.open(IN_MEMORY_STORE) as store,
            build_worker(stack.client, task_queue, systems.ports(store), rules),
        ):
            yield MemoryStack(stack.server, stack.settings, stack.client, systems)


@asynccontextmanager
async def vendor_stack(
    opts: DevServerOptions,
    task_queue: str,
    sandbox: SandboxOptions,
    receiver_port: int,
    rules: MappingRules,
    policy: Callable[[], SagaPolicy],
    test_clock_at: datetime | None = None,
    console: ConsoleSettings | None = None,
) -> AsyncIterator[VendorStack]:
    """The dev server, the seeded emulators, the receiver, and a worker whose adapters talk to the emulators.

    With `test_clock_at`, a Stripe test clock frozen then is created first, and every billing customer the worker
    creates lives on it. With `console`, the receiver serves the finance console at /console.
    """
    async with temporal_stack(opts, task_queue) as stack, seeded_sandbox(sandbox, rules) as running:
        test_clock = None
        if test_clock_at is not None:
            test_clock = await create_test_clock(sandbox_vendor_settings(running)[2], test_clock_at)
        settings = sandbox_vendor_settings(running, stripe_test_clock=test_clock)

        async def temporal() -> Client:
            return stack.client

        receiver = create_receiver_app(
            temporal,
            ReceiverSettings(
                salesforce_organization_id=running.salesforce.organization_id,
                task_queue=task_queue,
                stripe_webhook_secrets=(SecretStr(SANDBOX_STRIPE_WEBHOOK_SECRET),),
                console=console,
            ),
            policy,
        )
        async with (
            serving(receiver, receiver_port) as receiver_url,
            vendor_systems(*settings, rules, sqlite_url(sandbox.state_dir / DATABASE_FILE_NAME)) as systems,
            build_worker(stack.client, task_queue, systems, rules),
        ):
            yield VendorStack(
                stack.server,
                stack.settings,
                stack.client,
                sandbox=running,
                sandbox_options=sandbox,
                receiver_url=receiver_url + OUTBOUND_PATH,
                vendor_settings=settings,
                systems=systems,
            )


@asynccontextmanager
async def serving(receiver: FastAPI, port: int) -> AsyncIterator[str]:
    """The receiver app on `port`; yields its base URL."""
    started = False
    try:
        async with serve_apps({"receiver": (receiver, port)}, DEV_IP) as urls:
            started = True
            yield urls["receiver"]
    except EmulatorFailedToStart:
        if started:
            raise
        raise CliError(f"the receiver did not start on port {port} (in use?); {SANDBOX_PORT_HINT}") from None
