"""The operations pages: the exception queue (open cases by category and amount at risk; resolve, retry or
dismiss with a reason) and reconciliation (latest runs, their breaks, the trend of breaks across runs)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response

from adapters.store import CaseAction, CaseClosed, CaseNotFound, ExceptionCase
from adapters.store.reconciliation import ReconciliationStore
from canonical.money import Money
from canonical.reconciliation import ReconciliationBreak, ReconciliationRun
from receiver.console.users import Role
from receiver.console.web import Console, Refusal
from workers.exception_resolution import resolve_exception_case
from workflows.closed_won_client import SagaActionRefused

RECENT_RUNS = 10
# What each button does (as `q2c cases resolve`): the saga is moved on, then the case closed with who and why.
ACTIONS = {
    CaseAction.RESUME: "the cause is fixed: the saga carries on (closed-won reads the deal again)",
    CaseAction.RETRY: "the saga runs its parked step again",
    CaseAction.DISMISS: "nothing to do (duplicate, or handled elsewhere)",
}


@dataclass
class CategorySummary:
    category: str
    cases: int = 0
    at_risk: dict[str, Money] = field(default_factory=dict)  # per currency: the store holds no exchange rates
    unknown_amounts: int = 0


def by_category(cases: list[ExceptionCase]) -> list[CategorySummary]:
    """Open cases per category, with the amount at risk summed per currency, largest count first."""
    summaries: dict[str, CategorySummary] = defaultdict(lambda: CategorySummary(""))
    for case in cases:
        summary = summaries[case.category.value]
        summary.category = case.category.value
        summary.cases += 1
        if case.amount_at_risk is None:
            summary.unknown_amounts += 1
            continue
        currency = case.amount_at_risk.currency
        summary.at_risk[currency] = summary.at_risk.get(currency, Money.zero(currency)) + case.amount_at_risk
    return sorted(summaries.values(), key=lambda s: (-s.cases, s.category))


@dataclass(frozen=True)
class RunWithBreaks:
    run: ReconciliationRun
    breaks: list[ReconciliationBreak]


async def recent_runs(reconciliation: ReconciliationStore) -> list[ReconciliationRun]:
    """The latest matched run and those before it, newest first."""
    latest = await reconciliation.latest_run()
    if latest is None:
        return []
    runs = [latest]
    for run_id in range(latest.run_id - 1, max(0, latest.run_id - RECENT_RUNS), -1):
        try:
            runs.append(await reconciliation.run(run_id))
        except LookupError:
            continue
    return runs


def register(app: FastAPI, console: Console) -> None:
    @app.get("/exceptions")
    async def exceptions(request: Request) -> Response:
        return await _queue(request, console)

    @app.post("/exceptions/resolve")
    async def resolve(request: Request) -> Response:
        visitor = console.signed_in_visitor(request)
        form = await console.posted_form(request, visitor)
        user = console.require(visitor, Role.OPERATIONS)
        try:
            case_id, action = int(form.get("case_id", "")), CaseAction(form.get("action", ""))
        except ValueError:
            raise Refusal(400, "the form must name a case and one of resume, retry or dismiss") from None
        reason = form.get("reason", "").strip()
        if not reason or action not in ACTIONS:
            problem = f"case {case_id}: say why (a reason is required)" if not reason else "unknown action"
            return await _queue(request, console, 422, problem)
        # Dismissing leaves the saga alone, so it needs no Temporal; the others move the saga on first.
        client = None if action is CaseAction.DISMISS else await console.client()
        try:  # audited by resolve_exception_case itself (EXCEPTION_RESOLVED, once per case)
            await resolve_exception_case(client, await console.store(), case_id, action, user.name, reason)
        except (CaseClosed, CaseNotFound, SagaActionRefused) as error:
            return await _queue(request, console, 409, f"case {case_id}: {error}")
        return console.redirect(request, "/exceptions")

    @app.get("/reconciliation")
    async def reconciliation(request: Request) -> Response:
        visitor = console.signed_in_visitor(request)
        ledger = ReconciliationStore(await console.store())
        runs = await recent_runs(ledger)
        latest = RunWithBreaks(runs[0], await ledger.breaks(runs[0].run_id)) if runs else None
        return console.page(request, visitor, "reconciliation.html", runs=runs, latest=latest)


async def _queue(request: Request, console: Console, status: int = 200, problem: str | None = None) -> Response:
    visitor = console.signed_in_visitor(request)
    cases = await (await console.store()).open_cases()
    context = {"cases": cases, "categories": by_category(cases), "actions": ACTIONS, "problem": problem}
    return console.page(request, visitor, "exceptions.html", status=status, **context)
