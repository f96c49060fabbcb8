"""The four scenarios. Each runs on a fresh stack: closes its deals in Salesforce, lets the first invoices fall due,
disturbs the run its own way, lets everything settle, then counts outcomes and holdings into its figures."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import stripe
from temporalio.client import Client

from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from cli import output
from cli.chaos import disturbances, fuzzing
from cli.chaos.deals import fuzzed_deals, standard_deals
from cli.chaos.driving import INVOICE_MOMENT, close_deals, issue_first_invoices
from cli.chaos.figures import Figures
from cli.chaos.holdings import Holdings, finalized_invoices, holdings
from cli.chaos.outcomes import Outcomes, settle
from cli.chaos.reconciling import reconcile
from cli.chaos.stack import CampaignStack, campaign_stack
from sandbox.salesforce.seed import SeedError, seed_salesforce
from workflows.closed_won import workflow_id_for
from workflows.invoice_client import invoice_workflow_id

Disturbance = Callable[[CampaignStack, random.Random, asyncio.Event, int | None], Coroutine[Any, Any, None]]
SCENARIOS = ("worker-crash", "vendor-faults", "server-restart", "bad-input")


@dataclass(frozen=True)
class ScenarioOptions:
    sagas: int
    fault_rate: float
    seed: int
    state_dir: Path
    rules: MappingRules
    policy: SagaPolicy
    settle_seconds: float  # how long sagas may take after the last disturbance before they count as stuck
    kills: int | None = None  # at most this many worker or server kills per scenario (None: until the run ends)


def progress(scenario: str, text: str) -> None:
    """One line as each stage of a scenario ends: a full scenario runs for minutes."""
    output.say(f"  {datetime.now():%H:%M:%S} {scenario}: {text}")


def _tally(outcomes: Outcomes) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.summary().items())) or "none"


async def run_scenario(name: str, options: ScenarioOptions) -> Figures:
    started = time.monotonic()
    progress(name, f"starting its stack under {options.state_dir / name}")
    try:
        figures = await RUNS[name](options)
    except Exception as error:  # the campaign goes on to the next scenario; this one counts as failed
        figures = Figures(name, problems=[f"the scenario itself failed: {type(error).__name__}: {error}"])
    figures.seconds = time.monotonic() - started
    progress(
        name, f"done in {figures.seconds:.0f} s: {len(figures.problems)} problems, {len(figures.findings)} findings"
    )
    return figures


async def worker_crash(options: ScenarioOptions) -> Figures:
    figures = Figures("worker-crash")
    async with _stack(options, "worker-crash") as stack:
        await _disturbed_run(stack, options, figures, disturbances.kill_workers)
        figures.faults = {"worker SIGKILL": stack.worker.kills}
        figures.faults_injected = stack.worker.kills
    return figures


async def server_restart(options: ScenarioOptions) -> Figures:
    figures = Figures("server-restart")
    async with _stack(options, "server-restart") as stack:
        await _disturbed_run(stack, options, figures, disturbances.kill_servers)
        figures.faults = {"server SIGKILL": stack.server.kills, "worker restarted": stack.worker_restarts}
        figures.faults_injected = stack.server.kills
    return figures


async def vendor_faults(options: ScenarioOptions) -> Figures:
    figures = Figures("vendor-faults")
    async with _stack(options, "vendor-faults") as stack:
        disturbances.inject(stack, options.fault_rate, options.seed)

        async def until_stopped(_: CampaignStack, __: random.Random, stop: asyncio.Event, ___: int | None) -> None:
            await stop.wait()
            figures.faults = disturbances.injected(stack)  # and cleared: the checks read through no faults

        await _disturbed_run(stack, options, figures, until_stopped)
        figures.faults_injected = sum(figures.faults.values())
    return figures


async def _disturbed_run(
    stack: CampaignStack, options: ScenarioOptions, figures: Figures, disturb: Disturbance
) -> None:
    """Close the deals and issue the first invoices while `disturb` runs; stop it; let everything settle; count."""
    opportunities = [deal.opportunity.opportunity_id for deal in _deals(options)]
    stop = asyncio.Event()
    disturbing = asyncio.create_task(disturb(stack, random.Random(options.seed), stop, options.kills))
    try:
        await close_deals(stack, opportunities)
        progress(figures.scenario, f"{len(opportunities)} deals closed in Salesforce")
        closed_won = await settle(
            stack_client(stack), [workflow_id_for(o) for o in opportunities], options.settle_seconds
        )
        progress(figures.scenario, f"closed-won sagas: {_tally(closed_won)}; moving the test clock to invoice")
        await issue_first_invoices(stack)
        await _until_invoices(stack, closed_won.count("completed"), options.settle_seconds)
    finally:
        stop.set()
        await disturbing
    progress(figures.scenario, "disturbance stopped; letting every saga settle")
    if not stack.worker.running:
        await stack.restart_worker()
    closed_won = await settle(stack_client(stack), [workflow_id_for(o) for o in opportunities], options.settle_seconds)
    found = await holdings(stack)
    invoices = await settle(
        stack_client(stack), [invoice_workflow_id(i) for i in found.finalized_invoices], options.settle_seconds
    )
    progress(figures.scenario, f"closed-won: {_tally(closed_won)}; invoice -> revenue: {_tally(invoices)}")
    found = await holdings(stack)  # again, now that every invoice saga has settled
    _count(figures, closed_won, invoices, found)
    await _reconcile(stack, figures)
    _expect_every_deal_provisioned(figures, closed_won, invoices, found, opportunities)


def stack_client(stack: CampaignStack) -> Callable[[], Client]:
    return lambda: stack.client


async def _until_invoices(stack: CampaignStack, expected: int, seconds: float) -> None:
    """Wait until Stripe has finalized one first invoice per subscription (or the time is up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(stripe.StripeError):  # a fault on the way: ask again
            if len(await finalized_invoices(stack)) >= expected:
                return
        await asyncio.sleep(1)


def _count(figures: Figures, closed_won: Outcomes, invoices: Outcomes, found: Holdings) -> None:
    every = closed_won.sagas + invoices.sagas
    figures.sagas_run = len(every)
    for outcome in (closed_won, invoices):
        figures.completed += outcome.count("completed")
        figures.compensated += outcome.count("compensated")
        figures.parked += outcome.count("needs_attention")
        figures.stuck += outcome.count("stuck")
        figures.lost += outcome.count("missing") + outcome.count("failed")
        figures.problems += [f"{s.workflow_id} is {s.outcome} ({s.category})" for s in outcome.unsettled]
        figures.problems += [f"{s.workflow_id} parked without a category" for s in outcome.parked_without_category]
    figures.duplicates_found = found.duplicates_found
    figures.problems += [f"{what} held more than once: {keys}" for what, keys in found.duplicates.items() if keys]
    figures.ledger_balanced = found.ledger_balanced
    if not found.ledger_balanced:
        figures.problems.append(
            f"NetSuite ledger unbalanced: debits {found.ledger_debit}, credits {found.ledger_credit}"
        )
    figures.reconciliation_breaks = len(found.reconciliation_breaks)
    figures.problems += found.reconciliation_breaks


async def _reconcile(stack: CampaignStack, figures: Figures) -> None:
    """q2c's Reconciliation over the invoices' day; its breaks count beside the campaign's own invoice check."""
    day = INVOICE_MOMENT.date()
    breaks = await reconcile(stack, day, day)
    if isinstance(breaks, str):
        figures.findings.append(breaks)
        return
    figures.reconciliation_breaks += sum(breaks.values())
    figures.findings += [f"q2c recon: {count} {kind} break(s)" for kind, count in breaks.items()]


def _expect_every_deal_provisioned(
    figures: Figures, closed_won: Outcomes, invoices: Outcomes, found: Holdings, opportunities: list[str]
) -> None:
    """A completed saga left one customer in each system; a compensated one may leave its (deactivated) customer."""
    for saga in closed_won.sagas:
        account = "001" + saga.workflow_id.removeprefix("closed-won/006")
        if saga.outcome == "completed" and not (
            account in found.netsuite_customers and account in found.stripe_customers
        ):
            figures.problems.append(f"{saga.workflow_id} completed but {account} is missing from NetSuite or Stripe")
    figures.findings += [
        f"{saga.workflow_id} parked ({saga.category}) though its deal is standard"
        for outcome in (closed_won, invoices)
        for saga in outcome.sagas
        if saga.outcome == "needs_attention"
    ]
    if len(found.finalized_invoices) < closed_won.count("completed"):
        figures.problems.append(
            f"{closed_won.count('completed')} subscriptions but {len(found.finalized_invoices)} first invoices"
        )
    if closed_won.count("completed") + closed_won.count("compensated") != len(opportunities):
        figures.problems.append(f"of {len(opportunities)} standard deals, only {closed_won.summary()}")


async def bad_input(options: ScenarioOptions) -> Figures:
    """Fuzzed deals closed in Salesforce and fuzzed webhooks: every one refused (4xx), ignored, or parked with a
    category; no 5xx, the worker never dies, and nothing reaches NetSuite or Stripe."""
    figures = Figures("bad-input")
    fuzzed = [deal for deal, _ in fuzzed_deals(options.sagas, options.seed)]
    async with _stack(options, "bad-input", []) as stack:
        deals, refused = await _seeded(stack, fuzzed)
        await close_deals(stack, [deal.opportunity.opportunity_id for deal in deals])
        batch = fuzzing.deliveries(options.sagas, options.seed)
        answers, figures.problems = await fuzzing.deliver(stack.receiver_url, batch)
        progress(figures.scenario, f"{len(deals)} fuzzed deals closed, {len(batch)} fuzzed webhooks delivered")
        figures.faults = {"fuzzed deals": len(fuzzed), "refused by Salesforce": refused, "fuzzed webhooks": len(batch)}
        sagas = [workflow_id_for(deal.opportunity.opportunity_id) for deal in deals]
        sagas += [invoice_workflow_id(d.document) for d in batch if d.document]
        outcomes = await settle(stack_client(stack), sagas, options.settle_seconds)
        found = await holdings(stack)
        _count(figures, outcomes, Outcomes(), found)
        figures.faults_injected = len(fuzzed) + len(batch)
        for saga in outcomes.sagas:
            if saga.outcome != "needs_attention":
                figures.problems.append(f"{saga.workflow_id} should have parked, but is {saga.outcome}")
        posted = found.netsuite_customers | found.stripe_customers
        figures.problems += [f"fuzzed account {a} reached NetSuite or Stripe" for a in sorted(posted)]
        if not stack.worker.running:
            figures.problems.append(f"the worker died (exit {stack.worker.exit_code}); see {stack.worker.log_file}")
        figures.faults |= {f"webhook answers {status}": n for status, n in sorted(answers.items())}
    return figures


async def _seeded(stack: CampaignStack, deals: list[CrmDeal]) -> tuple[list[CrmDeal], int]:
    """Seed each fuzzed deal on its own; Salesforce refuses some (a 400 naming the field), which is one of the
    right answers to bad input. The deals it took, and how many it refused."""
    app, taken, refused = stack.sandbox.salesforce, [], 0
    for deal in deals:
        try:
            await seed_salesforce(stack.sandbox.urls["salesforce"], app.client_id, app.client_secret, [deal])
        except SeedError as error:
            if not re.search(r" 4\d\d ", str(error)):  # refused with a 4xx naming the problem: a right answer
                raise
            refused += 1
        else:
            taken.append(deal)
    return taken, refused


def _deals(options: ScenarioOptions) -> list[CrmDeal]:
    return standard_deals(options.sagas, options.seed)


@contextlib.asynccontextmanager
async def _stack(
    options: ScenarioOptions, name: str, deals: list[CrmDeal] | None = None
) -> AsyncIterator[CampaignStack]:
    async with campaign_stack(
        options.state_dir / name, options.rules, options.policy, deals if deals is not None else _deals(options)
    ) as stack:
        yield stack


RUNS: dict[str, Callable[[ScenarioOptions], Coroutine[Any, Any, Figures]]] = {
    "worker-crash": worker_crash,
    "vendor-faults": vendor_faults,
    "server-restart": server_restart,
    "bad-input": bad_input,
}
