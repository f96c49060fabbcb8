"""`q2c demo --systems sandbox` (the default): the story over HTTP. Deals are closed in the Salesforce emulator,
whose Outbound Message reaches the receiver, which starts the saga; the worker's adapters provision the Stripe and
NetSuite emulators; a Stripe test clock then runs the reference contract year with its monthly usage."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import stripe
from temporalio.service import RPCError

from adapters.memory.reference_deals import (
    AMENDMENT_OPPORTUNITY,
    NON_STANDARD_OPPORTUNITY,
    non_standard_deal,
    reference_amendment,
    reference_deal,
)
from adapters.netsuite.erp import NetSuiteErp
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.store.database import sqlite_url
from canonical.amendment_saga import AmendmentState
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from cli import output
from cli.billing_year import CONTRACT_START
from cli.console_demo import USERS_FILE_NAME, console_rows, demo_console, left_for_the_console, pending_deal
from cli.context import SANDBOX_NOTE, Globals, seeded_opportunities
from cli.reconciliation_demo import reconcile_the_year
from cli.revenue_report import contract_lineage, export_year, trial_balance_comparison, year_report
from cli.revenue_year import Amendment as YearAmendment
from cli.revenue_year import RevenueYear
from cli.sandbox import OUTBOUND_PATH, SQLITE_FILES
from cli.stacks import VendorStack, require_free_ports, require_free_sandbox_ports, sandbox_options, vendor_stack
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
    wait_for_start,
    wait_for_status,
)
from cli.vendor_report import vendor_report
from receiver.console import ConsoleSettings
from sandbox.netsuite import close_period
from sandbox.salesforce.seed import SeedError, close_opportunity, get_token, seed_salesforce
from workers.dev_server import DevServerOptions
from workers.vendor_systems import DATABASE_FILE_NAME
from workflows.closed_won import workflow_id_for
from workflows.invoice_client import amendment_workflow_id

STAGES = 7
YEAR_END = datetime(2028, 1, 21, tzinfo=UTC)  # the last invoice (December's usage) paid
START_TIMEOUT_SECONDS = 30.0  # the emulator delivers Outbound Messages within about a second


async def demo_over_http(
    args: argparse.Namespace, options: Globals, opts: DevServerOptions, rules: MappingRules, policy: SagaPolicy
) -> int:
    task_queue = options.settings().task_queue
    require_free_ports(opts)  # before deleting: a server still running on these ports may own the state dir
    require_free_sandbox_ports(args, opts)
    clean_state_dir(opts.state_dir, also=(*SQLITE_FILES, DATABASE_FILE_NAME, REPORTS_DIR, USERS_FILE_NAME))

    output.say("q2c demo: closed-won deals become ERP and billing customers, a subscription and a revenue")
    output.say("contract, each deal orchestrated by a Temporal saga that can wait for finance and undo its steps.")
    for line in output.wrapped(f"Note: {SANDBOX_NOTE}"):
        output.say(line)

    stage(1, STAGES, "Starting the Temporal dev server, the vendor emulators, the receiver and a worker ...")
    began = time.monotonic()
    sandbox = sandbox_options(args, opts.state_dir)
    console = demo_console(opts.state_dir, f"http://{opts.ip}:{opts.ui_port}")
    async with vendor_stack(
        opts, task_queue, sandbox, args.receiver_port, rules, options.policy, CONTRACT_START, console
    ) as stack:
        settings = stack.settings
        step(f"ready in {time.monotonic() - began:.1f} s")
        files = ", ".join(("temporal.sqlite", *SQLITE_FILES, DATABASE_FILE_NAME))
        block(
            output.fields(
                [
                    ("Temporal gRPC", settings.address),
                    ("Temporal UI", settings.ui_url),
                    ("Namespace / task queue", f"{settings.namespace} / {settings.task_queue}"),
                    ("State (SQLite)", f"{opts.state_dir.resolve()} ({files})"),
                    ("Salesforce", stack.sandbox.urls["salesforce"]),
                    ("Stripe", stack.sandbox.urls["stripe"]),
                    ("NetSuite", stack.sandbox.urls["netsuite"]),
                    ("Receiver", f"{stack.receiver_url}  (Salesforce's Outbound Message listener)"),
                    (
                        "Stripe test clock",
                        f"{stack.vendor_settings[2].test_clock}, frozen at the contract start, "
                        f"{CONTRACT_START:%Y-%m-%d %H:%M} UTC",
                    ),
                    ("Mapping rules", f"version {rules.version} ({options.rules_path()})"),
                    ("Saga policy", f"version {policy.version} ({options.policy_path()})"),
                    ("Seeded opportunities", seeded_opportunities()),
                    *console_rows(receiver_base(stack), console),
                ],
                indent="",
            )
        )
        reference = await closed_won_story(stack, 2, reference_deal(), "closed won on standard terms")
        contoso = await closed_won_story(stack, 3, non_standard_deal(), "needs finance approval", approval=True)
        problems = [] if reference is not None and contoso is not None else ["a saga did not complete"]

        stage(4, STAGES, f"The contract year on Stripe's test clock, {CONTRACT_START:%Y-%m-%d} to {YEAR_END:%Y-%m-%d}")
        if reference is None or not reference.references.billing_customer_id:
            step("skipped: the reference deal has no Stripe customer")
        elif not await billing_year(stack, reference, contoso, policy):
            problems.append("the contract year on the test clock stopped early")
        else:
            stage(5, STAGES, "The year in the revenue engine, checked against the ERP")
            problems += await year_end(stack, opts.state_dir)
            problems += await reconcile_the_year(stack, CONTRACT_START.date(), YEAR_END.date())

        stage(6, STAGES, "What each system holds now")
        block(await vendor_report(stack.vendor_settings, stack.systems.revenue))

        if not await console_story(stack, console):
            problems.append("the deal left for the console did not reach its approvals inbox")

        return await ending(
            settings,
            "; ".join(problems) or None,
            args.exit_when_done,
            "the worker, the receiver, the emulators and the Temporal dev server",
            [("sagas",), ("show", NON_STANDARD_OPPORTUNITY), ("start", "closed-won", "006NW0000000004")],
            [
                f"The emulators: `q2c sandbox --help` explains their APIs; fault injection at "
                f"{stack.sandbox.urls['stripe']}/_sandbox/faults (and the same path on the others)."
            ],
        )


async def closed_won_story(
    stack: VendorStack, number: int, deal: CrmDeal, what: str, *, approval: bool = False
) -> ClosedWonState | None:
    """Close the deal in Salesforce and follow its saga; its final state if it completed, else None."""
    opportunity = deal.opportunity.opportunity_id
    workflow_id = workflow_id_for(opportunity)
    stage(number, STAGES, f"Deal {opportunity}, {deal.account.name}: {what}")
    client, settings = stack.client, stack.settings
    try:
        await close_in_salesforce(stack, opportunity, deal.opportunity.owner or "the owner")
        waited = await wait_for_start(client, settings, workflow_id, START_TIMEOUT_SECONDS)
        step(f"saga started {workflow_id}, {waited:.1f} s after the deal closed")
        began = time.monotonic()
        if approval:
            step("waiting for the saga to ask for approval ...")
            approval_reasons(await wait_for_status(client, settings, workflow_id, SagaStatus.AWAITING_APPROVAL))
            if not await approve_through_cli(settings, workflow_id):
                return None
        state = await wait_for_result(client, settings, workflow_id, began)
    except DemoFailed as failure:
        output.error(str(failure))
        return None
    return state if report(settings, workflow_id, state) else None


async def console_story(stack: VendorStack, console: ConsoleSettings) -> bool:
    """One more non-standard deal closes in Salesforce and is left in the finance console for someone to decide."""
    deal = pending_deal()
    opportunity = deal.opportunity.opportunity_id
    workflow_id = workflow_id_for(opportunity)
    stage(7, STAGES, f"Deal {opportunity}, {deal.account.name}: left for finance in the console")
    salesforce = stack.sandbox.salesforce
    try:
        await seed_salesforce(stack.sandbox.urls["salesforce"], salesforce.client_id, salesforce.client_secret, [deal])
        await close_in_salesforce(stack, opportunity, deal.opportunity.owner or "the owner")
        await wait_for_start(stack.client, stack.settings, workflow_id, START_TIMEOUT_SECONDS)
    except (DemoFailed, SeedError, httpx.HTTPError) as failure:
        output.error(str(failure))
        return False
    step(f"saga started {workflow_id}")
    return await left_for_the_console(stack.client, stack.settings, workflow_id, receiver_base(stack), console)


def receiver_base(stack: VendorStack) -> str:
    return stack.receiver_url.removesuffix(OUTBOUND_PATH)


async def close_in_salesforce(stack: VendorStack, opportunity: str, owner: str) -> None:
    salesforce = stack.sandbox.urls["salesforce"]
    path = f"/services/data/v61.0/sobjects/Opportunity/{opportunity}"
    step(f"{owner} sets the opportunity to Closed Won in Salesforce (PATCH {path})")
    try:
        token = await get_token(salesforce, stack.sandbox.salesforce.client_id, stack.sandbox.salesforce.client_secret)
        await close_opportunity(salesforce, token, opportunity)
    except (SeedError, httpx.HTTPError) as error:
        raise DemoFailed(f"closing {opportunity} in Salesforce failed: {error}") from None
    step(f"Salesforce sends an Outbound Message to the receiver, {stack.receiver_url}; the receiver starts the saga")


async def billing_year(
    stack: VendorStack, reference: ClosedWonState, contoso: ClosedWonState | None, policy: SagaPolicy
) -> bool:
    northwind = reference.references.billing_customer_id or ""
    customers = {"Northwind": northwind}
    if contoso is not None and contoso.references.billing_customer_id:
        customers["Contoso"] = contoso.references.billing_customer_id
    billing = stack.vendor_settings[2]
    block(
        output.wrapped(
            "Each month the clock moves to the 15th, where Northwind's API calls of the month (`[usage]` of "
            "scenarios/reference-year.toml) go to Stripe as a billing meter event; to the 21st, where the "
            "invoices of the 1st are paid (20 days after issue); to the month's last evening, where "
            "`q2c close-period` recognises the month's revenue (its usage from the meter) and posts one journal "
            "to NetSuite, after which the NetSuite period is closed; then to the 1st, where Stripe invoices the "
            "coming month's seats and the ended month's usage. Stripe's webhooks reach the receiver, which starts "
            "one InvoiceToRevenue saga per invoice (posted to NetSuite at line level, recorded in the revenue "
            "engine) and one PaymentSettled saga per payment (applied in NetSuite, told to Salesforce)."
        )
    )
    netsuite = stack.sandbox.urls["netsuite"]

    async def close_erp_period(month: date) -> None:
        await close_period(netsuite, f"{month:%Y-%m}")

    async def close_amendment() -> str:
        owner = reference_amendment().owner or "the owner"
        await close_in_salesforce(stack, AMENDMENT_OPPORTUNITY, owner)
        return amendment_workflow_id(AMENDMENT_OPPORTUNITY)

    year = RevenueYear(
        client=stack.client,
        task_queue=stack.settings.task_queue,
        policy=policy,
        billing=billing,
        customers=customers,
        usage_customer=northwind,
        close_erp_period=close_erp_period,
        amendment=YearAmendment(reference_amendment_effective(), close_amendment),
    )
    began = time.monotonic()
    try:
        done = await year.run(last_month=date(2027, 12, 1))
    except (DemoFailed, stripe.StripeError, httpx.HTTPError) as failure:
        output.error(f"the contract year stopped: {failure}")
        return False
    step(
        f"{len(done.documents)} invoices posted, {len(done.payments)} payments applied, {len(done.closes)} months "
        f"closed in {time.monotonic() - began:.1f} s"
    )
    return True


async def year_end(stack: VendorStack, state_dir: Path) -> list[str]:
    """Print the revenue reports, compare the ERP's trial balance with the engine, export the year."""
    revenue, invoicing = stack.systems.revenue, stack.systems.invoicing
    if not isinstance(revenue, BuiltInRevenueEngine) or invoicing is None:
        return ["the worker has no revenue engine to report from"]
    block(await year_report(revenue, CONTRACT_START.year))
    block(["", *await contract_lineage(revenue, REFERENCE_CONTRACT, CONTRACT_START.year, await versions(stack))])
    erp = invoicing.ledger
    assert isinstance(erp, NetSuiteErp)
    through = await erp.accounting_period_for(YEAR_END.date())
    comparison, differences = trial_balance_comparison(
        await erp.cumulative_trial_balance(through), await revenue.balances_by_account()
    )
    block(["", f"Trial balance through {through.name}: NetSuite against the revenue engine", *comparison])
    files = await export_year(revenue, CONTRACT_START.year, state_dir / REPORTS_DIR)
    block(
        [
            "",
            "The year, to check independently:",
            *(f"  {p}" for p in (files.json, files.waterfall_csv, files.rollforward_csv, files.chart)),
        ]
    )
    database = sqlite_url(state_dir / DATABASE_FILE_NAME).replace("+aiosqlite", "")
    step(f"(again: `q2c revenue --year {CONTRACT_START.year} --database {database} --export DIR`)")
    return [f"the ERP and the revenue engine disagree: {d}" for d in differences]


def reference_amendment_effective() -> datetime:
    effective = reference_amendment().effective
    assert effective is not None  # the scenario states it
    return effective


REPORTS_DIR = "reports"
REFERENCE_CONTRACT = f"CTR-{reference_deal().opportunity.opportunity_id}"


async def versions(stack: VendorStack) -> list[tuple[str, str]]:
    """What made each version of the reference contract: its closed-won saga, then its amendment's."""
    made = []
    closed_won = ClosedWonState.model_validate(
        await stack.client.get_workflow_handle(workflow_id_for(reference_deal().opportunity.opportunity_id)).result()
    )
    made.append(
        (
            "v1",
            f"{workflow_id_for(closed_won.opportunity_id)}: total contract value "
            f"{output.money(closed_won.total_contract_value)}",
        )
    )
    try:
        amendment = AmendmentState.model_validate(
            await stack.client.get_workflow_handle(amendment_workflow_id(AMENDMENT_OPPORTUNITY)).result()
        )
    except RPCError:
        return made
    treatment = amendment.modification.treatment if amendment.modification else "-"
    effect = output.money(amendment.preview.total) if amendment.preview else "-"
    effective = amendment.amendment.effective_on if amendment.amendment else "-"
    made.append(
        (
            f"v{amendment.to_version}",
            f"{amendment_workflow_id(amendment.amendment_id)}: effective {effective}, "
            f"billed at once {effect}, ASC 606 treatment {treatment}",
        )
    )
    return made
