"""`q2c demo`: two closed-won deals through the saga on a fresh dev server, one approved through the CLI."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import cli
from adapters.memory.reference_deals import NON_STANDARD_OPPORTUNITY, reference_deal
from adapters.memory.systems import InMemorySystems, StoredCustomer
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from cli import output
from cli.context import IN_MEMORY_NOTE, CliError, Globals, q2c_command, ui_link
from cli.dev import Stack, dev_server_options, embedded_stack, require_free_ports, run_until_interrupted
from cli.sagas import fetch_state, final_state
from workers.dev_server import DB_FILE_NAME, LOG_FILE_NAME
from workers.temporal_settings import CONFIG_ENV, ENV_VARS
from workflows.closed_won_client import start_closed_won

APPROVER = "fiona.finance"
APPROVAL_NOTE = "Strategic logo: 30% discount and net-60 terms approved for year one"
SAGA_TIMEOUT_SECONDS = 60.0
APPROVAL_WAIT_SECONDS = 30.0
PROJECT_ROOT = Path(cli.__file__).resolve().parent.parent
STAGES = 4


class DemoFailed(Exception):
    """A stage of the demo did not go as the story says; the message tells what was seen instead."""


def stage(number: int, text: str) -> None:
    output.say()
    output.say(f"[{number}/{STAGES}] {text}")


def step(text: str) -> None:
    output.say(f"      {text}")


def block(lines: list[str]) -> None:
    for line in lines:
        output.say(f"      {line}" if line else "")


def clean_state_dir(state_dir: Path) -> None:
    """Delete the demo's state dir so every run tells the same story, but only if the demo made it."""
    if not state_dir.exists():
        return
    if not state_dir.is_dir():
        raise CliError(f"--state-dir {state_dir} is a file, not a directory; choose another --state-dir")
    foreign = sorted(
        entry.name
        for entry in state_dir.iterdir()
        if not (entry.is_file() and (entry.name.startswith(DB_FILE_NAME) or entry.name == LOG_FILE_NAME))
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CliError(
            f"refusing to delete --state-dir {state_dir}: it holds files the demo did not create ({shown}); "
            "choose another --state-dir"
        )
    shutil.rmtree(state_dir)


async def demo(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    base = options.settings()
    opts = dev_server_options(args, base.namespace)
    rules, policy = options.rules(), options.policy()  # bad config files stop the demo before anything starts
    require_free_ports(opts)  # before deleting: a server still running on these ports may own the state dir
    clean_state_dir(opts.state_dir)

    output.say("q2c demo: closed-won deals become ERP and billing customers, a subscription and a revenue")
    output.say("contract, each deal orchestrated by a Temporal saga that can wait for finance and undo its steps.")
    for line in output.wrapped(f"Note: {IN_MEMORY_NOTE}"):
        output.say(line)

    stage(1, f"Starting the Temporal dev server on {opts.ip}:{opts.port} and a worker ...")
    began = time.monotonic()
    async with embedded_stack(opts, base.task_queue, rules) as stack:
        settings = stack.settings
        step(f"ready in {time.monotonic() - began:.1f} s")
        block(
            output.fields(
                [
                    ("Temporal gRPC", settings.address),
                    ("Temporal UI", settings.ui_url),
                    ("Namespace / task queue", f"{settings.namespace} / {settings.task_queue}"),
                    ("State (SQLite)", str(opts.db_file.resolve())),
                    ("Mapping rules", f"version {rules.version} ({options.rules_path()})"),
                    ("Saga policy", f"version {policy.version} ({options.policy_path()})"),
                    ("CRM seeded with", sorted(stack.systems.crm.deals)),
                ],
                indent="",
            )
        )
        completed = [await reference_story(stack, policy), await approval_story(stack, policy)]

        stage(4, "What the in-memory systems hold now")
        block(systems_report(stack.systems))

        output.say()
        if all(completed):
            output.say("Both sagas completed: each deal now has its customers, subscription and revenue contract.")
        else:
            output.error("the demo did not end as expected: a saga did not complete (see above)")
        if args.exit_when_done:
            output.say("Stopping the worker and the Temporal dev server (--exit-when-done).")
            return 0 if all(completed) else 1
        output.say("While it runs, try from another terminal:")
        for command in (("sagas",), ("show", NON_STANDARD_OPPORTUNITY), ("start", "closed-won", "006NW0000000004")):
            output.say(f"  {q2c_command(settings, *command)}")
        output.say()
        output.say(f"Temporal UI: {settings.ui_url}  (Ctrl-C to stop)")
        await run_until_interrupted("the worker and the Temporal dev server")
    return 0 if all(completed) else 1


async def reference_story(stack: Stack, policy: SagaPolicy) -> bool:
    deal = reference_deal()
    opportunity = deal.opportunity.opportunity_id
    stage(2, f"Reference deal {opportunity}, {deal.account.name}: closed won on standard terms")
    began = time.monotonic()
    workflow_id = await start(stack, opportunity, policy)
    state = await wait_for_result(stack, workflow_id, began)
    return report(stack, workflow_id, state)


async def approval_story(stack: Stack, policy: SagaPolicy) -> bool:
    deal = stack.systems.crm.deals[NON_STANDARD_OPPORTUNITY]
    stage(3, f"Non-standard deal {NON_STANDARD_OPPORTUNITY}, {deal.account.name}: needs finance approval")
    began = time.monotonic()
    workflow_id = await start(stack, NON_STANDARD_OPPORTUNITY, policy)
    step("waiting for the saga to ask for approval ...")
    try:
        state = await wait_for_status(stack, workflow_id, SagaStatus.AWAITING_APPROVAL)
    except DemoFailed as failure:
        output.error(str(failure))
        return False
    step(f"{state.status.value}: total contract value {output.money(state.total_contract_value)}; policy says")
    for reason in state.approval_reasons:
        step(f"  - {reason.message}")
    if not await approve_through_cli(stack, workflow_id):
        return False
    state = await wait_for_result(stack, workflow_id, began)
    return report(stack, workflow_id, state)


async def start(stack: Stack, opportunity: str, policy: SagaPolicy) -> str:
    settings = stack.settings
    started = await start_closed_won(stack.client, opportunity, policy, settings.task_queue)
    workflow_id = started.handle.id
    fresh = "started" if started.started else "already existed (nothing new started):"
    step(f"saga {fresh} {workflow_id}")
    step(f"  (the same as `{q2c_command(settings, 'start', 'closed-won', opportunity)}`)")
    return workflow_id


async def wait_for_result(stack: Stack, workflow_id: str, began: float) -> ClosedWonState:
    step("waiting for the saga's result ...")
    try:
        state = await asyncio.wait_for(final_state(stack.client, stack.settings, workflow_id), SAGA_TIMEOUT_SECONDS)
    except TimeoutError:
        state, _ = await fetch_state(stack.client, stack.settings, workflow_id)
        output.error(f"{workflow_id} did not finish within {SAGA_TIMEOUT_SECONDS:g} s")
        return state
    step(f"{state.status.value}, {time.monotonic() - began:.1f} s after the saga started:")
    return state


async def wait_for_status(stack: Stack, workflow_id: str, wanted: SagaStatus) -> ClosedWonState:
    """Poll the state query until the saga reaches `wanted`; DemoFailed if it ends or parks elsewhere."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + APPROVAL_WAIT_SECONDS
    while True:
        state, execution = await fetch_state(stack.client, stack.settings, workflow_id)
        if state.status is wanted:
            return state
        if execution != "running" or state.status.waits_for_people:
            raise DemoFailed(f"{workflow_id} is {state.status.value} ({execution}), expected {wanted.value}")
        if loop.time() >= deadline:
            raise DemoFailed(
                f"{workflow_id} did not reach {wanted.value} within {APPROVAL_WAIT_SECONDS:g} s "
                f"(status {state.status.value}, step {state.step.value})"
            )
        await asyncio.sleep(0.2)


async def approve_through_cli(stack: Stack, workflow_id: str) -> bool:
    """Approve as finance would, with `q2c approve` in a subprocess (this process keeps running the worker)."""
    settings = stack.settings
    connection = ["--address", settings.address, "--namespace", settings.namespace]
    connection += ["--task-queue", settings.task_queue, "--ui-url", settings.ui_url]
    command = [*connection, "approve", workflow_id, "--as", APPROVER, "--note", APPROVAL_NOTE]
    step(f"{APPROVER} approves it through the CLI:")
    step(f"  $ {shlex.join(['q2c', *command])}")
    # Only the explicit options count: a user's Q2C_CONFIG or Q2C_TEMPORAL_* must not send it elsewhere.
    environment = {k: v for k, v in os.environ.items() if k != CONFIG_ENV and k not in ENV_VARS.values()}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        printed, _ = await asyncio.wait_for(process.communicate(), SAGA_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        output.error(f"`q2c approve` did not answer within {SAGA_TIMEOUT_SECONDS:g} s")
        return False
    for line in printed.decode("utf-8", errors="replace").splitlines():
        step(f"  | {line}")
    if process.returncode != 0:
        output.error(f"`q2c approve` exited with status {process.returncode} (its output is above)")
        return False
    return True


def report(stack: Stack, workflow_id: str, state: ClosedWonState) -> bool:
    block(output.saga_summary(state, ui_link(stack.settings, workflow_id), indent=""))
    if state.status is not SagaStatus.COMPLETED:
        output.error(f"{workflow_id} ended {state.status.value}, not completed")
        return False
    return True


def systems_report(systems: InMemorySystems) -> list[str]:
    def customers(rows: list[StoredCustomer]) -> list[list[str]]:
        return [[c.customer_id, c.name, c.external_id, "active" if c.active else "inactive"] for c in rows]

    customer_headers = ["ID", "NAME", "CRM ACCOUNT", "STATUS"]
    lines = ["ERP customers", *_table(customer_headers, customers(list(systems.erp.customers.customers.values())))]
    lines += ["", "Billing customers"]
    lines += _table(customer_headers, customers(list(systems.billing.customers.customers.values())))
    lines += ["", "Billing subscriptions"]
    lines += _table(
        ["ID", "CUSTOMER", "CONTRACT", "LINES", "STATUS"],
        [
            [s.subscription_id, s.customer_id, s.contract_id, str(s.lines), s.status]
            for s in systems.billing.subscriptions.values()
        ],
    )
    lines += ["", "Revenue contracts"]
    lines += _table(
        ["ID", "CONTRACT", "OBLIGATIONS", "STATUS"],
        [
            [r.revenue_contract_id, r.contract_id, str(r.obligations), r.status]
            for r in systems.revenue.contracts.values()
        ],
    )
    lines += ["", "CRM: saga outcomes written back to each opportunity"]
    rows = []
    for opportunity in sorted(systems.crm.deals):
        outcomes = systems.crm.outcomes.get(opportunity, [])
        if not outcomes:
            rows.append([opportunity, "-", "nothing written back (no saga ended for it)", ""])
        for outcome in outcomes:
            refs = outcome.references
            ids = [refs.erp_customer_id, refs.billing_customer_id, refs.subscription_id, refs.revenue_contract_id]
            rows.append([opportunity, outcome.status.value, outcome.message, ", ".join(i for i in ids if i)])
    lines += _table(["OPPORTUNITY", "OUTCOME", "MESSAGE", "REFERENCES"], rows)
    return lines


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    return output.table(headers, rows, indent="  ")
