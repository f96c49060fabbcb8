"""`q2c demo`: two closed-won deals through the saga on a fresh dev server, one approved through the CLI.

`--systems sandbox` (the default) tells it over HTTP against the vendor emulators (`cli.demo_vendors`);
`--systems memory` is the fast path on in-memory systems, told here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from adapters.memory.reference_deals import NON_STANDARD_OPPORTUNITY, reference_deal
from adapters.memory.systems import InMemorySystems, StoredCustomer
from canonical.saga import SagaStatus
from canonical.saga_policy import SagaPolicy
from cli import output
from cli.console_demo import USERS_FILE_NAME, console_rows, demo_console, left_for_the_console, pending_deal
from cli.context import IN_MEMORY_NOTE, Globals, q2c_command
from cli.demo_vendors import REPORTS_DIR, demo_over_http
from cli.sandbox import SQLITE_FILES
from cli.stacks import MemoryStack, dev_server_options, embedded_stack, require_free_ports, serving
from cli.story import (
    DemoFailed,
    approval_reasons,
    approve_through_cli,
    block,
    clean_state_dir,
    ending,
    report,
    stage,
    step,
    wait_for_result,
    wait_for_status,
)
from cli.vendor_report import revenue_lines, table
from receiver.app import ReceiverSettings, create_receiver_app
from receiver.console import ConsoleSettings
from workers.vendor_systems import DATABASE_FILE_NAME
from workflows.closed_won_client import start_closed_won

STAGES = 5
NO_SALESFORCE = "00D000000000000"  # in memory there is no Salesforce org: the receiver serves only the console


async def demo(args: argparse.Namespace) -> int:
    options = Globals.from_args(args)
    base = options.settings()
    opts = dev_server_options(args, base.namespace)
    rules, policy = options.rules(), options.policy()  # bad config files stop the demo before anything starts
    if args.systems == "sandbox":
        return await demo_over_http(args, options, opts, rules, policy)
    require_free_ports(opts)  # before deleting: a server still running on these ports may own the state dir
    clean_state_dir(
        opts.state_dir, also=(*SQLITE_FILES, DATABASE_FILE_NAME, REPORTS_DIR, USERS_FILE_NAME)
    )  # a run with --systems sandbox left those

    output.say("q2c demo: closed-won deals become ERP and billing customers, a subscription and a revenue")
    output.say("contract, each deal orchestrated by a Temporal saga that can wait for finance and undo its steps.")
    for line in output.wrapped(f"Note: {IN_MEMORY_NOTE}"):
        output.say(line)

    stage(1, STAGES, f"Starting the Temporal dev server on {opts.ip}:{opts.port} and a worker ...")
    began = time.monotonic()
    async with (
        embedded_stack(opts, base.task_queue, rules) as stack,
        console_receiver(stack, opts.state_dir, args.receiver_port, options.policy) as (receiver_url, console),
    ):
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
                    *console_rows(receiver_url, console),
                ],
                indent="",
            )
        )
        completed = [await reference_story(stack, policy), await approval_story(stack, policy)]

        stage(4, STAGES, "What the in-memory systems hold now")
        block(systems_report(stack.systems))
        completed.append(await console_story(stack, policy, receiver_url, console))
        return await ending(
            settings,
            None if all(completed) else "a saga did not complete",
            args.exit_when_done,
            "the worker and the Temporal dev server",
            [("sagas",), ("show", NON_STANDARD_OPPORTUNITY), ("start", "closed-won", "006NW0000000004")],
        )


async def reference_story(stack: MemoryStack, policy: SagaPolicy) -> bool:
    deal = reference_deal()
    opportunity = deal.opportunity.opportunity_id
    stage(2, STAGES, f"Reference deal {opportunity}, {deal.account.name}: closed won on standard terms")
    began = time.monotonic()
    workflow_id = await start(stack, opportunity, policy)
    state = await wait_for_result(stack.client, stack.settings, workflow_id, began)
    return report(stack.settings, workflow_id, state)


async def approval_story(stack: MemoryStack, policy: SagaPolicy) -> bool:
    deal = stack.systems.crm.deals[NON_STANDARD_OPPORTUNITY]
    stage(3, STAGES, f"Non-standard deal {NON_STANDARD_OPPORTUNITY}, {deal.account.name}: needs finance approval")
    began = time.monotonic()
    workflow_id = await start(stack, NON_STANDARD_OPPORTUNITY, policy)
    step("waiting for the saga to ask for approval ...")
    try:
        state = await wait_for_status(stack.client, stack.settings, workflow_id, SagaStatus.AWAITING_APPROVAL)
    except DemoFailed as failure:
        output.error(str(failure))
        return False
    approval_reasons(state)
    if not await approve_through_cli(stack.settings, workflow_id):
        return False
    state = await wait_for_result(stack.client, stack.settings, workflow_id, began)
    return report(stack.settings, workflow_id, state)


async def console_story(stack: MemoryStack, policy: SagaPolicy, receiver_url: str, console: ConsoleSettings) -> bool:
    deal = pending_deal()
    stack.systems.crm.save_deal(deal)
    opportunity = deal.opportunity.opportunity_id
    stage(5, STAGES, f"Deal {opportunity}, {deal.account.name}: left for finance in the console")
    workflow_id = await start(stack, opportunity, policy)
    return await left_for_the_console(stack.client, stack.settings, workflow_id, receiver_url, console)


@asynccontextmanager
async def console_receiver(
    stack: MemoryStack, state_dir: Path, port: int, policy: Callable[[], SagaPolicy]
) -> AsyncIterator[tuple[str, ConsoleSettings]]:
    """The receiver on `port`, serving the finance console (there is no Salesforce to send it anything)."""
    console = demo_console(state_dir, stack.settings.ui_url)

    async def temporal() -> Client:
        return stack.client

    receiver_settings = ReceiverSettings(
        salesforce_organization_id=NO_SALESFORCE, task_queue=stack.settings.task_queue, console=console
    )
    async with serving(create_receiver_app(temporal, receiver_settings, policy), port) as url:
        yield url, console


async def start(stack: MemoryStack, opportunity: str, policy: SagaPolicy) -> str:
    settings = stack.settings
    started = await start_closed_won(stack.client, opportunity, policy, settings.task_queue)
    workflow_id = started.handle.id
    fresh = "started" if started.started else "already existed (nothing new started):"
    step(f"saga {fresh} {workflow_id}")
    step(f"  (the same as `{q2c_command(settings, 'start', 'closed-won', opportunity)}`)")
    return workflow_id


def systems_report(systems: InMemorySystems) -> list[str]:
    def customers(rows: list[StoredCustomer]) -> list[list[str]]:
        return [[c.customer_id, c.name, c.external_id, "active" if c.active else "inactive"] for c in rows]

    customer_headers = ["ID", "NAME", "CRM ACCOUNT", "STATUS"]
    lines = ["ERP customers", *table(customer_headers, customers(list(systems.erp.customers.customers.values())))]
    lines += ["", "Billing customers"]
    lines += table(customer_headers, customers(list(systems.billing.customers.customers.values())))
    lines += ["", "Billing subscriptions"]
    lines += table(
        ["ID", "CUSTOMER", "CONTRACT", "LINES", "STATUS"],
        [
            [s.subscription_id, s.customer_id, s.contract_id, str(s.lines), s.status]
            for s in systems.billing.subscriptions.values()
        ],
    )
    lines += ["", "Revenue contracts", *revenue_lines(systems.revenue)]
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
    lines += table(["OPPORTUNITY", "OUTCOME", "MESSAGE", "REFERENCES"], rows)
    return lines
