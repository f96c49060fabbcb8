"""The finance console in `q2c demo` and `q2c dev`: demo users with known passwords, the console's settings, and
the deal left waiting in its approvals inbox at the end of the demo.

The demo's users file lives in the state dir (never in config/), with passwords printed on screen: they are for
this machine's demo only. Production users are added with `q2c console-user`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client

from adapters.memory.reference_deals import non_standard_deal
from adapters.store.database import sqlite_url
from canonical.crm_deal import CrmDeal
from canonical.saga import SagaStatus
from cli import output
from cli.story import DemoFailed, approval_reasons, block, step, wait_for_status
from receiver.console import ConsoleSettings, Role, write_user
from workers.temporal_settings import TemporalSettings
from workers.vendor_systems import DATABASE_FILE_NAME

USERS_FILE_NAME = "console-users.toml"
CONSOLE_PATH = "/console/"
# Demo only: printed on screen, written to the demo's own users file.
DEMO_USERS = (
    ("fiona.finance", Role.APPROVER, "fiona-demo-password"),
    ("olga.ops", Role.OPERATIONS, "olga-demo-password"),
    ("vic.viewer", Role.VIEWER, "vic-demo-password"),
)
PENDING_OPPORTUNITY = "006NW0000000005"
INBOX_WAIT_SECONDS = 10.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def demo_console(state_dir: Path, temporal_ui_url: str) -> ConsoleSettings:
    """Console settings for a demo or dev run: demo users written to the state dir, a fresh signing secret."""
    users_file = state_dir / USERS_FILE_NAME
    users_file.unlink(missing_ok=True)
    for name, role, password in DEMO_USERS:
        write_user(users_file, name, role, password)
    return ConsoleSettings(
        secret=SecretStr(secrets.token_urlsafe(32)),  # per run: signing in again after a restart is fine here
        users_file=users_file,
        database_url=sqlite_url(state_dir / DATABASE_FILE_NAME),
        temporal_ui_url=temporal_ui_url,
    )


def console_rows(receiver_url: str, settings: ConsoleSettings) -> list[output.Row]:
    return [
        ("Finance console", receiver_url.rstrip("/") + CONSOLE_PATH),
        ("Sign in as", [f"{name} / {password}  ({role.value})" for name, role, password in DEMO_USERS]),
        ("Console users", f"{settings.users_file}  (`q2c console-user` adds more)"),
    ]


def pending_deal() -> CrmDeal:
    """A second Contoso deal on the same non-standard terms, left for finance to decide in the console. It never
    reaches billing during the demo, so the reference year's figures stay as they are."""
    deal = non_standard_deal()
    opportunity = deal.opportunity.model_copy(
        update={"opportunity_id": PENDING_OPPORTUNITY, "name": "Contoso Robotics — second site"}
    )
    lines = tuple(line.model_copy(update={"quantity": Decimal(120)}) for line in deal.lines)
    return deal.model_copy(update={"opportunity": opportunity, "lines": lines})


async def left_for_the_console(
    client: Client, settings: TemporalSettings, workflow_id: str, receiver_url: str, console: ConsoleSettings
) -> bool:
    """Wait until the saga asks finance, then say where it waits: the console's approvals inbox."""
    step("waiting for the saga to ask for approval ...")
    try:
        state = await wait_for_status(client, settings, workflow_id, SagaStatus.AWAITING_APPROVAL)
    except DemoFailed as failure:
        output.error(str(failure))
        return False
    approval_reasons(state)
    inbox = receiver_url.rstrip("/") + CONSOLE_PATH.rstrip("/") + "/approvals"
    step("nobody decides it in the demo: it waits in the finance console's approvals inbox,")
    step(f"  {inbox}")
    block(output.fields(console_rows(receiver_url, console), indent=""))
    try:
        await seen_in_the_inbox(receiver_url, workflow_id)
    except (DemoFailed, httpx.HTTPError) as failure:
        output.error(f"the console's inbox does not show {workflow_id}: {failure}")
        return False
    name = DEMO_USERS[-1][0]
    step(f"(checked: signed in as {name}, the console's inbox lists {workflow_id} with its reasons)")
    return True


async def seen_in_the_inbox(receiver_url: str, workflow_id: str) -> None:
    """Sign in as the demo's viewer, as a browser would, and find the saga in the approvals inbox (Temporal's
    index lags the saga by a moment, so look again for a few seconds)."""
    name, _, password = DEMO_USERS[-1]
    base = receiver_url.rstrip("/") + CONSOLE_PATH.rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=INBOX_WAIT_SECONDS) as http:
        login = await http.get("/login")
        token = _CSRF.search(login.text)
        form = {"csrf_token": token.group(1) if token else "", "username": name, "password": password}
        signed_in = await http.post("/login", data=form)
        if signed_in.status_code != 303:
            raise DemoFailed(f"signing in as {name} answered {signed_in.status_code}")
        for _ in range(int(INBOX_WAIT_SECONDS * 5)):
            if workflow_id in (await http.get("/approvals")).text:
                return
            await asyncio.sleep(0.2)
    raise DemoFailed(f"not listed within {INBOX_WAIT_SECONDS:g} s")
