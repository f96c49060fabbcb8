"""What the console tests share: users with known passwords, a receiver app with the console on it, its own
Temporal dev server (so the approvals inbox lists only this module's sagas), and a worker on in-memory systems."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import non_standard_deal
from adapters.memory.systems import InMemorySystems
from adapters.store import OperationalStore, sqlite_url
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from receiver.app import ReceiverSettings, create_receiver_app
from receiver.console import ConsoleSettings, Role, write_user
from tests.conftest import _server_options
from workflows.closed_won_client import start_closed_won

PASSWORDS = {
    "fiona.finance": ("approver", "fiona-demo-password"),
    "sam.seller": ("approver", "sam-demo-password"),  # an approver in the console, but the deal's own owner
    "vic.viewer": ("viewer", "vic-demo-password"),
    "olga.ops": ("operations", "olga-demo-password"),
}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def users_file(directory: Path) -> Path:
    path = directory / "console-users.toml"
    for name, (role, password) in PASSWORDS.items():
        write_user(path, name, Role(role), password)
    return path


def console_settings(directory: Path) -> ReceiverSettings:
    console = ConsoleSettings(
        secret=SecretStr(secrets.token_urlsafe(32)),
        users_file=users_file(directory),
        database_url=sqlite_url(directory / "q2c.sqlite"),
        temporal_ui_url="http://127.0.0.1:8233",
    )
    return ReceiverSettings(salesforce_organization_id="00DNW0000000001", console=console)


@asynccontextmanager
async def console_app(
    directory: Path, temporal: Callable[[], Awaitable[Client]], policy: SagaPolicy
) -> AsyncIterator[FastAPI]:
    """The receiver with its console, its lifespan running (so the console's store closes after)."""
    app = create_receiver_app(temporal, console_settings(directory), lambda: policy)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def own_temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(**_server_options())  # type: ignore[arg-type]
    try:
        yield env
    finally:
        await env.shutdown()


def csrf_token(page: str) -> str:
    found = CSRF_INPUT.search(page)
    assert found is not None, f"no CSRF token on the page: {page[:500]}"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, name: str, password: str | None = None) -> httpx.Response:
    """Sign in through the form, as a browser does; the client keeps the session cookie."""
    page = await http.get("/console/login")
    password = PASSWORDS[name][1] if password is None else password
    form = {"csrf_token": csrf_token(page.text), "username": name, "password": password, "next": ""}
    return await http.post("/console/login", data=form)


@dataclass(frozen=True)
class PendingDeal:
    workflow_id: str
    opportunity_id: str


async def deal_awaiting_approval(
    client: Client, systems: InMemorySystems, policy: SagaPolicy, task_queue: str
) -> PendingDeal:
    """A non-standard deal (30% discount, net 60) closed won; returns once its saga waits for finance."""
    deal = non_standard_deal()
    opportunity = f"{deal.opportunity.opportunity_id}-{uuid.uuid4().hex[:8]}"
    systems.crm.save_deal(
        deal.model_copy(update={"opportunity": deal.opportunity.model_copy(update={"opportunity_id": opportunity})})
    )
    started = await start_closed_won(client, opportunity, policy, task_queue)
    for _ in range(200):
        state: ClosedWonState = await started.handle.query("state", result_type=ClosedWonState)
        if state.status is SagaStatus.AWAITING_APPROVAL:
            return PendingDeal(started.handle.id, opportunity)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{started.handle.id} never waited for approval (last: {state.status})")


async def audit_of(directory: Path, workflow_id: str) -> list[dict[str, object]]:
    async with await OperationalStore.open(sqlite_url(directory / "q2c.sqlite")) as store:
        return [r.model_dump(mode="json") for r in await store.audit_records(workflow_id=workflow_id)]
