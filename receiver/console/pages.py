"""The console's pages: sign-in, the approvals inbox, saga search and one saga, the exception queue, and
reconciliation. Forms post back with the session's CSRF token; every action is audited."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.store import AuditEventKind
from canonical.saga import ApprovalDecision, SagaStatus, SagaType
from receiver.console import operations
from receiver.console.approvals import is_decidable, pending_approvals, send_decision
from receiver.console.audit import record_action
from receiver.console.sagas import SagaFilter, SearchRefused
from receiver.console.settings import ConsoleSettings
from receiver.console.users import Role, UsersFileError
from receiver.console.web import Console, Refusal, SignInNeeded, Visitor, base_path, safe_next
from workflows.closed_won_client import SagaActionRefused

log = logging.getLogger("q2c.console")
DONE_MESSAGES = {  # what the saga page says after an action (a fixed text: nothing from the query string is shown)
    "approved": "Approved: the saga carries on provisioning.",
    "rejected": "Rejected: the saga ends and tells the CRM why.",
}


def create_console(settings: ConsoleSettings, client: Callable[[], Awaitable[Client]]) -> tuple[FastAPI, Console]:
    """The console as an app to mount (at `/console`), and its state (close it when the server stops)."""
    console = Console(settings, client)
    app = FastAPI(title="q2c finance console", docs_url=None, redoc_url=None, openapi_url=None)
    _errors(app, console)
    _sign_in(app, console)
    _approvals(app, console)
    _sagas(app, console)
    operations.register(app, console)
    return app, console


def _sign_in(app: FastAPI, console: Console) -> None:
    @app.get("/")
    async def home(request: Request) -> Response:
        return console.redirect(request, "/approvals")

    @app.get("/console.css")
    async def stylesheet() -> Response:
        css = resources.files("receiver.console").joinpath("static/console.css").read_text(encoding="utf-8")
        return console.answer(Response(css, media_type="text/css"), None)

    @app.get("/login")
    async def login_page(request: Request, next: str = "") -> Response:
        visitor = console.visitor(request)
        return console.page(request, visitor, "login.html", next=next, problem=None)

    @app.post("/login")
    async def login(request: Request) -> Response:
        visitor = console.visitor(request)
        form = await console.posted_form(request, visitor)
        name = form.get("username", "").strip()
        user = console.users.directory().signed_in(name, form.get("password", ""))
        if user is None:
            log.warning("console sign-in refused for %r", name)
            problem = "Wrong user name or password."
            return console.page(request, visitor, "login.html", status=401, next=form.get("next", ""), problem=problem)
        log.info("console sign-in: %s (%s)", user.name, user.role.value)
        target = safe_next(base_path(request), form.get("next"))
        return console.redirect(request, target, console.signer.new(user.name))

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        visitor = console.signed_in_visitor(request)
        await console.posted_form(request, visitor)
        return console.redirect(request, "/login", console.signer.new(None))


def _approvals(app: FastAPI, console: Console) -> None:
    async def inbox(request: Request, visitor: Visitor, status: int = 200, problem: str | None = None) -> Response:
        pending = await pending_approvals(await console.directory())
        return console.page(request, visitor, "approvals.html", status=status, pending=pending, problem=problem)

    @app.get("/approvals")
    async def approvals(request: Request) -> Response:
        return await inbox(request, console.signed_in_visitor(request))

    @app.post("/approvals/decide")
    async def decide(request: Request) -> Response:
        visitor = console.signed_in_visitor(request)
        form = await console.posted_form(request, visitor)
        user = console.require(visitor, Role.APPROVER)
        workflow_id, verdict, note = form.get("workflow_id", ""), form.get("verdict", ""), form.get("note", "").strip()
        if not is_decidable(workflow_id) or verdict not in ("approve", "reject"):
            raise Refusal(400, "the form must name a deal or amendment saga and approve or reject")
        if verdict == "reject" and not note:
            return await inbox(request, visitor, 422, f"{workflow_id}: a rejection needs a note saying why.")
        decision = ApprovalDecision(approver=user.name, approved=verdict == "approve", note=note)
        store = await console.store()
        try:
            recorded = await send_decision(await console.client(), workflow_id, decision)
        except SagaActionRefused as refused:
            outcome = {"requested": verdict, "outcome": "refused", "reason": str(refused)}
            await record_action(store, AuditEventKind.APPROVAL, workflow_id, user.name, note, outcome)
            return await inbox(request, visitor, 409, f"{workflow_id}: the saga refused: {refused}")
        outcome = {"requested": verdict, "outcome": "recorded", "decided_at": recorded.decided_at.isoformat()}
        await record_action(store, AuditEventKind.APPROVAL, workflow_id, user.name, note, outcome)
        log.info("console: %s %sd %s", user.name, verdict, workflow_id)
        return console.redirect(request, f"/saga?id={quote(workflow_id, safe='')}&done={verdict}d")


def _sagas(app: FastAPI, console: Console) -> None:
    @app.get("/sagas")
    async def sagas(request: Request) -> Response:
        visitor = console.signed_in_visitor(request)
        fields = dict(request.query_params)
        rows, problem = [], None
        try:
            wanted = SagaFilter.from_form(fields)
            rows = await (await console.directory()).search(wanted)
        except SearchRefused as refused:
            problem = str(refused)
        context = {"fields": fields, "rows": rows, "problem": problem, "statuses": SagaStatus, "types": SagaType}
        return console.page(request, visitor, "sagas.html", status=400 if problem else 200, **context)

    @app.get("/saga")
    async def saga(request: Request, id: str = "", done: str = "") -> Response:
        visitor = console.signed_in_visitor(request)
        details = await (await console.directory()).details(id) if id else None
        if details is None:
            raise Refusal(404, f"no saga {id!r} in this namespace")
        message = DONE_MESSAGES.get(done)
        return console.page(request, visitor, "saga.html", details=details, message=message)


def _errors(app: FastAPI, console: Console) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, error: SignInNeeded) -> Response:
        return console.answer(RedirectResponse(error.location(base_path(request)), status_code=303), None)

    @app.exception_handler(Refusal)
    async def refused(request: Request, error: Refusal) -> Response:
        log.warning("console refused %s %s (%d): %s", request.method, request.url.path, error.status, error.message)
        return _error_page(request, console, error.status, error.message)

    @app.exception_handler(UsersFileError)
    async def users_file(request: Request, error: UsersFileError) -> Response:
        log.error("%s", error)
        return console.answer(PlainTextResponse(f"The console cannot sign anyone in: {error}", status_code=503), None)

    @app.exception_handler(RPCError)
    async def temporal_unavailable(request: Request, error: RPCError) -> Response:
        log.warning("console: Temporal answered %s: %s", error.status, error.message)
        return _error_page(request, console, 503, f"Temporal did not answer ({error.message}); try again shortly.")


def _error_page(request: Request, console: Console, status: int, message: str) -> HTMLResponse:
    visitor = console.visitor(request)
    return console.page(request, visitor, "error.html", status=status, message=message)
