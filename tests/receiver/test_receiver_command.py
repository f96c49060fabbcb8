"""`q2c receiver` as the service it is in production: configured by the environment, refusing what it cannot
trust, and answering 503 while Temporal is unreachable so the vendors retry."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from receiver.environment import EVENT_SOURCES_ENV, ORGANIZATION_ENV, ReceiverSettingsError, receiver_settings_from_env
from tests.receiver.schemes import STRIPE_SECRET, new_object_id, stripe_event, stripe_headers
from workers.dev_server import free_port

ROOT = Path(__file__).resolve().parents[2]
ORGANIZATION = "00DNW0000000001"


def test_the_settings_come_from_the_environment() -> None:
    settings = receiver_settings_from_env(
        "q2c-prod",
        {
            ORGANIZATION_ENV: ORGANIZATION,
            "Q2C_STRIPE_WEBHOOK_SECRETS": "whsec_new, whsec_old",
            EVENT_SOURCES_ENV: "erp=s1,erp=s2,hr=s3",
        },
    )
    assert settings.task_queue == "q2c-prod" and settings.salesforce_organization_id == ORGANIZATION
    assert settings.stripe_secrets() == ("whsec_new", "whsec_old")
    assert settings.event_source_secrets_of("erp") == ("s1", "s2") and settings.event_source_secrets_of("hr") == ("s3",)
    assert settings.hubspot_secret() is None and settings.console is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, ORGANIZATION_ENV),
        ({ORGANIZATION_ENV: ORGANIZATION, EVENT_SOURCES_ENV: "erp"}, EVENT_SOURCES_ENV),
        ({ORGANIZATION_ENV: ORGANIZATION, EVENT_SOURCES_ENV: "bad source!=s"}, "event_source_secrets"),
        ({ORGANIZATION_ENV: ORGANIZATION, "Q2C_CONSOLE_SECRET": "short"}, "ConsoleSettings.secret"),
    ],
)
def test_a_missing_or_malformed_setting_names_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ReceiverSettingsError, match=named):
        receiver_settings_from_env("q2c", environ)


@pytest.fixture
async def receiver_process(tmp_path: Path) -> AsyncIterator[str]:
    port, unreachable_temporal = free_port(), free_port()
    environ = {
        **os.environ,
        ORGANIZATION_ENV: ORGANIZATION,
        "Q2C_STRIPE_WEBHOOK_SECRETS": STRIPE_SECRET,
        "Q2C_CONSOLE_SECRET": "console-secret-for-tests-0123456789abcdef",
        "Q2C_CONSOLE_USERS_FILE": str(tmp_path / "users.toml"),
        "Q2C_DATABASE_URL": f"sqlite:///{tmp_path / 'q2c.sqlite'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "--address", f"127.0.0.1:{unreachable_temporal}", "receiver",
        "--port", str(port), cwd=ROOT, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f"{base}/console/login")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, (await process.stdout.read()).decode()  # type: ignore[union-attr]
                    await asyncio.sleep(0.1)
        yield base
    finally:
        process.terminate()
        await process.wait()


async def test_the_service_answers_503_while_temporal_is_down_and_refuses_forged_events(receiver_process: str) -> None:
    url = f"{receiver_process}/stripe/webhooks"
    body = stripe_event("invoice.finalized", new_object_id("invoice"))
    async with httpx.AsyncClient(timeout=30) as http:
        genuine = await http.post(url, content=body, headers=stripe_headers(url, body))
        forged = await http.post(url, content=body, headers=stripe_headers(url, body, secret="whsec_forged"))
        console = await http.get(f"{receiver_process}/console/login")
    assert genuine.status_code == 503  # Temporal is unreachable: Stripe retries, nothing is lost
    assert forged.status_code == 401  # a forged signature starts nothing
    assert console.status_code == 200 and "Sign in" in console.text
