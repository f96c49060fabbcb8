"""The finance console end to end in a real browser: Debian's Chromium, headless, driven through WebDriver.

A non-standard deal waits for finance on a real Temporal dev server (worker on in-memory systems); the receiver
serves the console over real HTTP; finance signs in, finds the deal in the inbox with its financial effect and
why policy asked, approves it with a note, and watches the saga finish. Skipped where Chromium is not installed
(`.ci/ensure-chromium` installs it), except in CI (the `CI` variable), where it must run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import demo_deals
from adapters.memory.systems import InMemorySystems
from canonical.mapping_rules import MappingRules
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from receiver.app import create_receiver_app
from sandbox.servers import serve_apps
from tests.receiver.console_stack import PASSWORDS, audit_of, console_settings, deal_awaiting_approval, own_temporal
from workers.closed_won_worker import build_worker
from workers.dev_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30
NOTE = "Strategic logo: approved for year one"


def _require_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test, but {', '.join(missing)} is missing (.ci/ensure-chromium)")
        pytest.skip(f"{', '.join(missing)} not installed; `bash .ci/ensure-chromium` installs Debian's Chromium")


@dataclass(frozen=True)
class SeenInBrowser:
    signed_in_as: str
    inbox: str  # the deal's section of the inbox
    saga_status: str
    execution_status: str
    saga_page: str
    temporal_ui_link: str


def approve_in_chromium(console_url: str, workflow_id: str) -> SeenInBrowser:
    """Sign in as finance, approve the deal from the inbox, wait on the saga page until it completes."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="q2c-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        wait = WebDriverWait(browser, WAIT_SECONDS)
        browser.get(f"{console_url}/console/")  # not signed in: the sign-in page
        wait.until(shown.presence_of_element_located((By.ID, "username"))).send_keys("fiona.finance")
        browser.find_element(By.ID, "password").send_keys(PASSWORDS["fiona.finance"][1])
        browser.find_element(By.ID, "sign-in").click()
        deal = wait.until(shown.presence_of_element_located((By.ID, f"approval-{workflow_id}")))
        inbox = deal.text
        signed_in_as = browser.find_element(By.ID, "signed-in-as").text
        deal.find_element(By.NAME, "note").send_keys(NOTE)
        deal.find_element(By.CSS_SELECTOR, "button.approve").click()
        wait.until(shown.text_to_be_present_in_element((By.ID, "execution-status"), "completed"))
        return SeenInBrowser(
            signed_in_as=signed_in_as,
            inbox=inbox,
            saga_status=browser.find_element(By.ID, "saga-status").text,
            execution_status=browser.find_element(By.ID, "execution-status").text,
            saga_page=browser.find_element(By.TAG_NAME, "main").text,
            temporal_ui_link=browser.find_element(By.ID, "temporal-ui").get_attribute("href") or "",
        )
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    _require_chromium()
    async with own_temporal() as env:
        yield env


async def test_finance_signs_in_approves_a_pending_deal_in_chromium_and_sees_the_saga_finish(
    temporal: WorkflowEnvironment, fast_policy: SagaPolicy, mapping_rules: MappingRules, tmp_path: Path
) -> None:
    systems = InMemorySystems()
    for deal in demo_deals():
        systems.crm.save_deal(deal)
    task_queue = f"console-browser-{uuid.uuid4()}"

    async def client() -> Client:
        return temporal.client

    app = create_receiver_app(client, console_settings(tmp_path), lambda: fast_policy)
    async with (
        build_worker(temporal.client, task_queue, systems.ports(), mapping_rules),
        serve_apps({"receiver": (app, free_port())}) as urls,
    ):
        pending = await deal_awaiting_approval(temporal.client, systems, fast_policy, task_queue)
        # WebDriver blocks; the server and the worker keep running in this event loop meanwhile.
        seen = await asyncio.to_thread(approve_in_chromium, urls["receiver"], pending.workflow_id)

    assert seen.signed_in_as == "fiona.finance (approver)"
    assert "Total contract value 210,000.00 USD" in seen.inbox
    assert "discount 30% exceeds 15%" in seen.inbox
    assert "awaiting_approval" in seen.inbox
    assert (seen.saga_status, seen.execution_status) == ("completed", "completed")
    assert "Approved: the saga carries on provisioning." in seen.saga_page
    assert f"decision.decision.note {NOTE}" in seen.saga_page
    assert "references.subscription_id sub_mem" in seen.saga_page
    assert seen.temporal_ui_link.endswith(f"/workflows/{pending.workflow_id.replace('/', '%2F')}")
    result: ClosedWonState = await temporal.client.get_workflow_handle(
        pending.workflow_id, result_type=ClosedWonState
    ).result()
    assert result.status is SagaStatus.COMPLETED and result.decision is not None
    assert result.decision.decision.approver == "fiona.finance"
    assert len(systems.billing.subscriptions) == 1
    [audit] = await audit_of(tmp_path, pending.workflow_id)
    assert (audit["kind"], audit["actor"], audit["note"]) == ("approval", "fiona.finance", NOTE)
