"""`q2c dev` (dev server + embedded worker, on the vendor sandbox or in-memory systems) and `q2c worker` (a worker
against any Temporal, on the vendors the Q2C_* variables name or in-memory systems)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from temporalio.client import Client

from adapters.memory.reference_deals import INCOMPLETE_OPPORTUNITY, NON_STANDARD_OPPORTUNITY, reference_deal
from adapters.ports import SystemPorts
from adapters.store.store import OperationalStore
from canonical.mapping_rules import MappingRules
from cli import output
from cli.context import (
    IN_MEMORY_NOTE,
    SANDBOX_NOTE,
    VENDORS_NOTE,
    Globals,
    connect_patiently,
    q2c_command,
    run_until_interrupted,
    seeded_opportunities,
    seeded_systems,
)
from cli.sandbox import banner
from cli.stacks import (
    Stack,
    VendorStack,
    dev_server_options,
    embedded_stack,
    require_free_ports,
    require_free_sandbox_ports,
    sandbox_options,
    vendor_stack,
)
from cli.vendor_env import VendorSettings, settings_from_env
from workers.closed_won_worker import build_worker
from workers.dev_server import DevServerOptions
from workers.search_attribute_check import check_search_attributes
from workers.telemetry import SpanExport, load_telemetry_settings, telemetry
from workers.temporal_settings import TemporalSettings
from workers.vendor_systems import IN_MEMORY_STORE, database_url_from_env, vendor_systems
from workflows.reconciliation_client import SCHEDULE_ID, create_daily_schedule_if_missing

REFERENCE = reference_deal().opportunity.opportunity_id
WORKER_STATE_DIR = Path(".q2c/worker")  # the revenue engine's SQLite file, unless Q2C_DATABASE_URL says otherwise

# --- q2c dev -------------------------------------------------------------------------------------------


async def dev(args: argparse.Namespace) -> int:
    # Spans print to the console unless Q2C_OTEL_EXPORTER says otherwise (see workers.telemetry).
    with telemetry(load_telemetry_settings(default_exporter=SpanExport.CONSOLE)):
        return await _dev(args)


async def _dev(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    base = options.settings()
    opts = dev_server_options(args, base.namespace)
    rules = options.rules()  # a bad file stops here, before the server starts
    sandbox = args.systems == "sandbox"
    if sandbox:
        options.policy()  # the receiver starts sagas under it: a bad file stops here too
    had_state = opts.db_file.exists()
    require_free_ports(opts)
    if sandbox:
        require_free_sandbox_ports(args, opts)
    output.say(f"Starting the Temporal dev server on {opts.ip}:{opts.port} (state in {opts.state_dir}) ...")
    if not sandbox:
        async with embedded_stack(opts, base.task_queue, rules) as stack:
            rows = _temporal_rows(stack, opts, had_state, options.rules_path().as_posix(), rules.version)
            output.say("q2c dev is up: a Temporal dev server and a closed-won worker.")
            for line in output.fields([*rows, ("Seeded opportunities", seeded_opportunities())]):
                output.say(line)
            for line in output.wrapped(f"Note: {IN_MEMORY_NOTE}", indent="  "):
                output.say(line)
            if had_state:
                output.say(
                    "  The SQLite file keeps sagas across restarts; the in-memory systems start empty every time."
                )
            _try(stack.settings)
            output.say("Running until Ctrl-C.")
            await run_until_interrupted("the worker and the Temporal dev server")
        return 0
    output.say("... and the Salesforce, Stripe and NetSuite emulators, the receiver and a worker on them.")
    emulators = sandbox_options(args, opts.state_dir)
    async with vendor_stack(opts, base.task_queue, emulators, args.receiver_port, rules, options.policy) as vendors:
        rows = _temporal_rows(vendors, opts, had_state, options.rules_path().as_posix(), rules.version)
        output.say("q2c dev is up: a Temporal dev server, the vendor emulators, the receiver and a closed-won worker.")
        rows.append(("Receiver", f"{vendors.receiver_url}  (Salesforce's Outbound Message listener)"))
        for line in banner(vendors.sandbox, vendors.sandbox_options, rows):
            output.say(line)
        output.say("Seeded opportunities (open until closed in Salesforce; the seed never reopens a deal):")
        for line in seeded_opportunities():
            output.say(f"  {line}")
        for line in output.wrapped(f"Note: {SANDBOX_NOTE}", indent="  "):
            output.say(line)
        if had_state:
            output.say("  The SQLite files keep sagas and the emulators' records across restarts.")
        _try(vendors.settings, vendors)
        output.say("Running until Ctrl-C.")
        await run_until_interrupted("the worker, the receiver, the emulators and the Temporal dev server")
    return 0


def _temporal_rows(
    stack: Stack, opts: DevServerOptions, had_state: bool, rules_path: str, rules_version: str
) -> list[output.Row]:
    settings = stack.settings
    return [
        ("Temporal gRPC", settings.address),
        ("Temporal UI", settings.ui_url),
        ("Namespace", settings.namespace),
        ("Task queue", settings.task_queue),
        ("State dir", str(opts.state_dir.resolve())),
        ("SQLite file", str(opts.db_file.resolve()) + (" (sagas from earlier runs kept)" if had_state else "")),
        ("Server log", str(opts.log_file.resolve())),
        ("Mapping rules", f"version {rules_version} ({rules_path})"),
    ]


def _try(settings: TemporalSettings, vendors: VendorStack | None = None) -> None:
    output.say("Try, from another terminal:")
    if vendors is None:
        commands = [
            ("start", "closed-won", REFERENCE, "--wait"),
            ("start", "closed-won", NON_STANDARD_OPPORTUNITY),
            ("approvals",),
            ("approve", NON_STANDARD_OPPORTUNITY, "--as", "fiona.finance", "--note", "approved for Q1"),
            ("start", "closed-won", INCOMPLETE_OPPORTUNITY),
            ("sagas", "--stuck"),
            ("show", INCOMPLETE_OPPORTUNITY),
        ]
        for command in commands:
            output.say(f"  {q2c_command(settings, *command)}")
        return
    for line in close_deal_lines(vendors):
        output.say(f"  {line}")
    output.say("  then:")
    for command in (
        ("show", REFERENCE),
        ("approvals",),
        ("approve", NON_STANDARD_OPPORTUNITY, "--as", "fiona.finance", "--note", "approved for Q1"),
        ("sagas", "--stuck"),
        ("show", INCOMPLETE_OPPORTUNITY),
    ):
        output.say(f"    {q2c_command(settings, *command)}")
    output.say("  (`q2c start closed-won` on a deal still open in Salesforce parks it: the saga checks the stage)")


def close_deal_lines(vendors: VendorStack) -> list[str]:
    """Shell lines that close the seeded deals in the Salesforce emulator, as a seller would."""
    salesforce, app = vendors.sandbox.urls["salesforce"], vendors.sandbox.salesforce
    credentials = f"grant_type=client_credentials&client_id={app.client_id}&client_secret={app.client_secret}"
    token_request = shlex.join(["curl", "-s", "-d", credentials, f"{salesforce}/services/oauth2/token"])
    read_token = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    patch = (
        "curl -s -X PATCH -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        f'-d \'{{"StageName": "Closed Won"}}\' {salesforce}/services/data/v61.0/sobjects/Opportunity/$1'
    )
    deals = "; ".join(f"close {deal}" for deal in (REFERENCE, NON_STANDARD_OPPORTUNITY, INCOMPLETE_OPPORTUNITY))
    return [
        "close deals in Salesforce; each Outbound Message reaches the receiver, which starts the saga:",
        f"  TOKEN=$({token_request} | {read_token})",
        f"  close() {{ {patch}; }}",
        f"  {deals}",
    ]


# --- q2c worker ----------------------------------------------------------------------------------------


async def worker(args: argparse.Namespace) -> int:
    with telemetry(load_telemetry_settings()):  # Q2C_OTEL_EXPORTER, Q2C_METRICS_ADDRESS
        return await _worker(args)


async def _worker(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    settings = options.settings()
    rules = options.rules()
    vendors = settings_from_env() if args.systems == "vendors" else None  # a missing variable stops it here
    client = await connect_patiently(settings, args.wait_for_temporal)
    await check_search_attributes(client, settings.namespace)
    output.configure_worker_logging()
    rows: list[output.Row] = [
        ("Temporal", settings.address),
        ("Namespace", settings.namespace),
        ("Task queue", settings.task_queue),
        ("Mapping rules", f"version {rules.version} ({options.rules_path()})"),
    ]
    if vendors is None:
        systems = seeded_systems()
        rows.append(("Seeded opportunities", seeded_opportunities()))
        async with await OperationalStore.open(IN_MEMORY_STORE) as store:
            await _work(client, settings.task_queue, systems.ports(store), rules, rows, IN_MEMORY_NOTE)
        return 0
    database = database_url_from_env(WORKER_STATE_DIR)
    rows.append(("Database (store, revenue engine)", database))
    # Reconciliation runs daily by default: the worker that can run it makes sure its schedule exists.
    created = await create_daily_schedule_if_missing(client, settings.task_queue)
    rows.append(("Reconciliation", f"daily schedule {SCHEDULE_ID} ({'created' if created else 'exists'})"))
    async with vendor_systems(*vendors, rules, database) as ports:
        await _work(client, settings.task_queue, ports, rules, rows + vendor_rows(vendors), VENDORS_NOTE)
    return 0


def vendor_rows(settings: VendorSettings) -> list[output.Row]:
    crm, erp, billing = settings
    clock = f", customers on test clock {billing.test_clock}" if billing.test_clock else ""
    return [
        ("Salesforce", f"{crm.base_url}  ({crm.auth_flow.value.replace('_', ' ')}, client {crm.client_id})"),
        ("NetSuite", f"{erp.base_url}  (account {erp.account_id}, {erp.auth.value} authentication)"),
        ("Stripe", f"{billing.base_url}{clock}"),
    ]


async def _work(
    client: Client, task_queue: str, ports: SystemPorts, rules: MappingRules, rows: list[output.Row], note: str
) -> None:
    async with build_worker(client, task_queue, ports, rules):
        invoicing = " and the invoice → revenue, payment-settled and period-close sagas" if ports.invoicing else ""
        output.say(f"q2c worker is running the closed-won saga{invoicing}.")
        for line in output.fields(rows):
            output.say(line)
        for line in output.wrapped(f"Note: {note}", indent="  "):
            output.say(line)
        output.say("Running until Ctrl-C.")
        await run_until_interrupted("the worker")
