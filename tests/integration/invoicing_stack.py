"""The invoicing stack the invoice → revenue and amendment tests share: a real dev server, the emulators with
Stripe's webhooks going to a receiver, a worker on the vendor adapters and a revenue engine on SQLite, the
reference deal's customers on a Stripe test clock; and helpers that read what the systems hold."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from adapters.memory.reference_deals import demo_deals, reference_amendment
from adapters.netsuite.erp import NetSuiteErp
from adapters.ports import SystemPorts
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.store.database import sqlite_url
from canonical.invoice_saga import InvoiceToRevenueState
from canonical.mapping_rules import MappingRules
from canonical.saga import SagaStatus
from canonical.saga_policy import SagaPolicy
from receiver.app import ReceiverSettings, create_receiver_app
from sandbox.salesforce.seed import close_opportunity, get_token
from sandbox.servers import serve_apps
from sandbox.stack import RunningSandbox, SandboxOptions, run_sandbox, seed_sandbox
from sandbox.stripe.api_client import create_test_clock
from sandbox.stripe.settings import WebhookEndpointSettings
from workers.closed_won_worker import build_worker
from workers.dev_server import free_port, temporal_cli_path
from workers.vendor_systems import sandbox_vendor_settings, vendor_systems
from workflows import search_attributes
from workflows.closed_won import workflow_id_for

REFERENCE = "006NW0000000001"
HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORD_HISTORIES = os.environ.get("Q2C_RECORD_HISTORIES") == "1"  # re-record the replay tests' histories
SECRET = "whsec_test_invoice_to_revenue"
CONTRACT_START = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass
class Stack:
    client: Client
    sandbox: RunningSandbox
    systems: SystemPorts
    task_queue: str
    rules: MappingRules
    policy: dict[str, SagaPolicy]  # what the receiver starts sagas with; a test may swap it
    clock: str
    restart_worker: Callable[[], Any] = field(repr=False)

    @property
    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.sandbox.stripe_api_key,
            base_addresses={"api": self.sandbox.urls["stripe"]},
            http_client=stripe.HTTPXClient(),
        )

    @property
    def erp(self) -> NetSuiteErp:
        assert isinstance(self.systems.erp, NetSuiteErp)
        return self.systems.erp

    @property
    def revenue(self) -> BuiltInRevenueEngine:
        assert isinstance(self.systems.revenue, BuiltInRevenueEngine)
        return self.systems.revenue


@pytest.fixture
async def temporal_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        search_attributes=list(search_attributes.ALL),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def stack(
    temporal_server: WorkflowEnvironment, mapping_rules: MappingRules, fast_policy: SagaPolicy, tmp_path: Path
) -> AsyncIterator[Stack]:
    client, task_queue, receiver_port = temporal_server.client, f"invoices-{uuid.uuid4()}", free_port()
    policy = {"current": fast_policy}

    async def temporal() -> Client:
        return client

    receiver = create_receiver_app(
        temporal,
        ReceiverSettings(
            salesforce_organization_id="00DNW0000000001",
            task_queue=task_queue,
            stripe_webhook_secrets=(SecretStr(SECRET),),
        ),
        lambda: policy["current"],
    )
    options = SandboxOptions(
        state_dir=tmp_path,
        ports={vendor: free_port() for vendor in ("salesforce", "stripe", "netsuite")},
        outbound_listener_url=f"http://127.0.0.1:{receiver_port}/salesforce/outbound-messages",
        stripe_webhooks=(
            WebhookEndpointSettings(url=f"http://127.0.0.1:{receiver_port}/stripe/webhooks", secret=SECRET),
        ),
    )
    async with run_sandbox(options) as sandbox, serve_apps({"receiver": (receiver, receiver_port)}):
        await seed_sandbox(sandbox, mapping_rules, demo_deals(), (reference_amendment(),))
        clock = await create_test_clock(sandbox_vendor_settings(sandbox)[2], CONTRACT_START)
        settings = sandbox_vendor_settings(sandbox, stripe_test_clock=clock, timeout_seconds=5.0)
        database = sqlite_url(tmp_path / "q2c.sqlite")
        async with vendor_systems(*settings, mapping_rules, database) as systems:
            running: list[Worker] = []

            def start_worker() -> None:
                worker = build_worker(client, task_queue, systems, mapping_rules)
                running.append(worker)
                asyncio.get_running_loop().create_task(worker.run())

            async def restart_worker() -> None:
                """Stop the running worker; called again, start a new one (what happens between is the test's)."""
                if running:
                    await running.pop().shutdown()
                else:
                    start_worker()

            start_worker()
            try:
                yield Stack(client, sandbox, systems, task_queue, mapping_rules, policy, clock, restart_worker)
            finally:
                for worker in running:
                    await worker.shutdown()


async def subscribed(stack: Stack) -> str:
    """Close the reference deal in Salesforce; its saga subscribes Northwind. The Stripe customer's ID."""
    salesforce = stack.sandbox.urls["salesforce"]
    token = await get_token(salesforce, stack.sandbox.salesforce.client_id, stack.sandbox.salesforce.client_secret)
    await close_opportunity(salesforce, token, REFERENCE)
    state = await completed(stack, workflow_id_for(REFERENCE))
    customer: str = state["references"]["billing_customer_id"]
    return customer


async def completed(stack: Stack, workflow_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait for a saga a trigger starts to complete; its result as JSON-ready data."""
    handle = stack.client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            status = (await handle.describe()).status
        except Exception as error:  # not started yet: the webhook is on its way
            if "not found" not in str(error).lower():
                raise
            status = None
        if status is WorkflowExecutionStatus.COMPLETED:
            result: dict[str, Any] = await handle.result()
            return result
        assert status in (None, WorkflowExecutionStatus.RUNNING), f"{workflow_id} ended {status}"
        assert asyncio.get_running_loop().time() < deadline, f"{workflow_id} did not complete in {timeout} s"
        await asyncio.sleep(0.1)


async def record_history(stack: Stack, workflow_id: str, name: str) -> None:
    """With Q2C_RECORD_HISTORIES=1, keep the saga's history for tests/workflows/test_replay.py."""
    if RECORD_HISTORIES:
        history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


async def saga_state(stack: Stack, workflow_id: str, wanted: SagaStatus) -> InvoiceToRevenueState:
    handle = stack.client.get_workflow_handle(workflow_id)
    for _ in range(300):
        try:
            state = InvoiceToRevenueState.model_validate(await handle.query("state"))
            if state.status is wanted:
                return state
        except Exception as error:
            if "not found" not in str(error).lower():
                raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {wanted}")


async def suiteql(stack: Stack, query: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.sandbox.urls["netsuite"]) as http:
        token = (await http.post("/_sandbox/access-token")).json()["access_token"]
        response = await http.post(
            "/services/rest/query/v1/suiteql",
            headers={"Authorization": f"Bearer {token}", "Prefer": "transient"},
            json={"q": query},
        )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def erp_transactions(stack: Stack, external_id: str) -> list[dict[str, Any]]:
    return await suiteql(stack, f"SELECT id, type, postingperiod FROM transaction WHERE externalid = '{external_id}'")
