"""What every console page shares: who is asking (session and user), the forms they post (CSRF-checked), the
rendered HTML (autoescaped Jinja2, strict security headers), and the refusals shown as readable pages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from temporalio.client import Client

from adapters.store import OperationalStore
from receiver.console.sagas import SagaDirectory
from receiver.console.sessions import COOKIE_NAME, CSRF_FIELD, Session, SessionSigner, csrf_token_matches
from receiver.console.settings import ConsoleSettings
from receiver.console.users import ConsoleUser, Role, UsersFile

MAX_FORM_BYTES = 64 * 1024
R = TypeVar("R", bound=Response)
FORM_TYPE = "application/x-www-form-urlencoded"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ROLE_DUTIES = {
    Role.APPROVER: "approve or reject deals and amendments",
    Role.OPERATIONS: "resolve, retry or dismiss exception cases",
}


class Refusal(Exception):
    """A request the console turns down, with the HTTP status and a sentence for the person who made it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Visitor:
    session: Session
    user: ConsoleUser | None
    fresh: bool  # the session is new: its cookie must be set on the response

    def may(self, role: Role) -> bool:
        return self.user is not None and self.user.may(role)


class Console:
    """The console's collaborators: settings, users, session signing, templates, Temporal and the store."""

    def __init__(self, settings: ConsoleSettings, client: Callable[[], Awaitable[Client]]) -> None:
        self.settings = settings
        self.users = UsersFile(settings.users_file)
        self.signer = SessionSigner(settings.secret.get_secret_value(), settings.session_lifetime)
        self.templates = Environment(
            loader=PackageLoader("receiver.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self._client = client
        self._store: OperationalStore | None = None
        self._store_lock = asyncio.Lock()

    async def directory(self) -> SagaDirectory:
        return SagaDirectory(await self._client(), self.settings.temporal_ui_url)

    async def client(self) -> Client:
        return await self._client()

    async def store(self) -> OperationalStore:
        """The operational store, opened (and migrated) on first use, in the server's event loop."""
        async with self._store_lock:
            if self._store is None:
                self._store = await OperationalStore.open(self.settings.database_url)
            return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    # --- who is asking --------------------------------------------------------------------------------

    def visitor(self, request: Request) -> Visitor:
        session = self.signer.read(request.cookies.get(COOKIE_NAME))
        if session is None:
            return Visitor(self.signer.new(None), None, fresh=True)
        user = self.users.directory().user(session.user) if session.user else None
        if session.user and user is None:  # removed from the users file since signing in
            return Visitor(self.signer.new(None), None, fresh=True)
        return Visitor(session, user, fresh=False)

    def signed_in_visitor(self, request: Request) -> Visitor:
        visitor = self.visitor(request)
        if visitor.user is None:
            raise SignInNeeded(request.url.path, request.url.query)
        return visitor

    @staticmethod
    def require(visitor: Visitor, role: Role) -> ConsoleUser:
        user = visitor.user
        assert user is not None  # callers pass a signed-in visitor
        if not user.may(role):
            duty = ROLE_DUTIES.get(role, role.value)
            raise Refusal(403, f"{user.name} signs in as {user.role.value}; only the {role.value} role may {duty}")
        return user

    async def posted_form(self, request: Request, visitor: Visitor) -> dict[str, str]:
        """The form's fields, once its CSRF token is the session's; a `Refusal` otherwise."""
        fields = await read_form(request)
        if not csrf_token_matches(visitor.session, fields.get(CSRF_FIELD)):
            raise Refusal(
                403, "this form has expired or did not come from this console (CSRF check); reload the page and retry"
            )
        return fields

    # --- answers --------------------------------------------------------------------------------------

    def page(
        self, request: Request, visitor: Visitor, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            base=base_path(request),
            user=visitor.user,
            csrf_token=visitor.session.csrf_token,
            csrf_field=CSRF_FIELD,
            roles=Role,
            **context,
        )
        return self.answer(HTMLResponse(html, status_code=status), visitor.session if visitor.fresh else None)

    def redirect(self, request: Request, path: str, session: Session | None = None) -> Response:
        return self.answer(RedirectResponse(base_path(request) + path, status_code=303), session)

    def answer(self, response: R, session: Session | None) -> R:
        """Security headers on every answer; the session cookie when a new session starts."""
        response.headers.update(SECURITY_HEADERS)
        if session is not None:
            response.set_cookie(
                COOKIE_NAME,
                self.signer.cookie_value(session),
                max_age=self.signer.lifetime_seconds,
                path="/",
                httponly=True,
                samesite="strict",
                secure=self.settings.secure_cookie,
            )
        return response


class SignInNeeded(Exception):
    """A page for signed-in users only: the visitor goes to the sign-in page and comes back after."""

    def __init__(self, path: str, query: str) -> None:
        super().__init__(path)
        self.back_to = path + (f"?{query}" if query else "")

    def location(self, base: str) -> str:
        return f"{base}/login?next={quote(self.back_to, safe='')}"


def base_path(request: Request) -> str:
    """Where the console is mounted (`/console`), so its links work wherever the receiver puts it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


async def read_form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise Refusal(415, f"the console takes forms ({FORM_TYPE}) only")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refusal(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Refusal(400, "the form is not UTF-8") from None
    return {name: values[0] for name, values in parsed.items()}


def safe_next(base: str, requested: str | None) -> str:
    """Where to go after signing in: only a page of this console (never another site)."""
    if requested and requested.startswith(base + "/") and not requested.startswith("//") and "\\" not in requested:
        return requested[len(base) :]
    return "/approvals"
