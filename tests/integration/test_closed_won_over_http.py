"""End to end over real HTTP: closing a deal in the Salesforce emulator sends an Outbound Message to the
receiver, which starts the saga on a real Temporal dev server; the worker's adapters talk to the Salesforce,
Stripe and NetSuite emulators. With faults injected the saga still completes, and nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import stripe
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.memory.reference_deals import demo_deals
from adapters.ports import SystemPorts
from canonical.mapping_rules import MappingRules
from canonical.saga import ClosedWonState, SagaStatus
from canonical.saga_policy import SagaPolicy
from receiver.app import ReceiverSettings, create_receiver_app
from sandbox.faults import FaultConfig, FaultRule
from sandbox.salesforce.seed import close_opportunity, get_token
from sandbox.servers import serve_apps
from sandbox.stack import RunningSandbox, SandboxOptions, run_sandbox, seed_sandbox
from workers.closed_won_worker import build_worker
from workers.dev_server import free_port
from workers.vendor_systems import sandbox_vendor_settings, vendor_systems
from workflows.closed_won import ClosedWonToSubscription, workflow_id_for

REFERENCE = "006NW0000000001"


@dataclass
class Stack:
    client: Client
    sandbox: RunningSandbox
    systems: SystemPorts


@pytest.fixture
async def stack(
    temporal_server: WorkflowEnvironment, mapping_rules: MappingRules, fast_policy: SagaPolicy, tmp_path: Path
) -> AsyncIterator[Stack]:
    temporal_env = temporal_server
    task_queue = f"http-{uuid.uuid4()}"
    receiver_port = free_port()

    async def temporal() -> Client:
        return temporal_env.client

    receiver = create_receiver_app(
        temporal,
        ReceiverSettings(salesforce_organization_id="00DNW0000000001", task_queue=task_queue),
        lambda: fast_policy,
    )
    options = SandboxOptions(
        state_dir=tmp_path,
        ports={vendor: free_port() for vendor in ("salesforce", "stripe", "netsuite")},
        outbound_listener_url=f"http://127.0.0.1:{receiver_port}/salesforce/outbound-messages",
    )
    async with run_sandbox(options) as sandbox, serve_apps({"receiver": (receiver, receiver_port)}):
        await seed_sandbox(sandbox, mapping_rules, demo_deals())
        async with (
            vendor_systems(*sandbox_vendor_settings(sandbox, timeout_seconds=2.0), mapping_rules) as systems,
            build_worker(temporal_env.client, task_queue, systems, mapping_rules),
        ):
            yield Stack(temporal_env.client, sandbox, systems)


async def close_and_await(stack: Stack, opportunity: str) -> ClosedWonState:
    salesforce = stack.sandbox.urls["salesforce"]
    token = await get_token(salesforce, stack.sandbox.salesforce.client_id, stack.sandbox.salesforce.client_secret)
    await close_opportunity(salesforce, token, opportunity)
    handle = stack.client.get_workflow_handle_for(ClosedWonToSubscription.run, workflow_id_for(opportunity))
    for _ in range(300):  # the Outbound Message arrives within the emulator's poll interval
        try:
            return await asyncio.wait_for(handle.result(), timeout=60)
        except Exception as error:  # not started yet: the receiver has not been called
            if "not found" not in str(error).lower():
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("the saga never started")


def stripe_client(stack: Stack) -> stripe.StripeClient:
    return stripe.StripeClient(
        stack.sandbox.stripe_api_key,
        base_addresses={"api": stack.sandbox.urls["stripe"]},
        http_client=stripe.HTTPXClient(),
    )


async def netsuite_customers(stack: Stack, external_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=stack.sandbox.urls["netsuite"]) as http:
        token = (await http.post("/_sandbox/access-token")).json()["access_token"]
        response = await http.post(
            "/services/rest/query/v1/suiteql",
            headers={"Authorization": f"Bearer {token}", "Prefer": "transient"},
            json={"q": f"SELECT id, isinactive FROM customer WHERE externalid = '{external_id}'"},
        )
    response.raise_for_status()
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def assert_one_of_each(stack: Stack, result: ClosedWonState) -> None:
    client = stripe_client(stack)
    customers = await client.v1.customers.search_async({"query": "metadata['crm_account_id']:'001NW0000000001'"})
    subscriptions = await client.v1.subscriptions.list_async({"customer": result.references.billing_customer_id or ""})
    assert [c.id for c in customers.data] == [result.references.billing_customer_id]
    assert [s.id for s in subscriptions.data] == [result.references.subscription_id]
    assert len(await netsuite_customers(stack, "001NW0000000001")) == 1
    deal = await stack.systems.crm.fetch_deal(REFERENCE)
    assert deal.opportunity.stage == "Closed Won"


async def test_closing_the_reference_deal_in_salesforce_provisions_stripe_and_netsuite(stack: Stack) -> None:
    result = await close_and_await(stack, REFERENCE)

    assert result.status is SagaStatus.COMPLETED
    assert str(result.total_contract_value) == "123000.00 USD"
    await assert_one_of_each(stack, result)
    subscription = await stripe_client(stack).v1.subscriptions.retrieve_async(result.references.subscription_id or "")
    quantities = sorted(item.quantity or 0 for item in subscription["items"]["data"])
    # The term starts 2027-01-01, after today: Stripe bills from then, so the subscription trials until then.
    starts = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    assert (subscription.status, subscription.trial_end, quantities[-1]) == ("trialing", starts, 100)
    [erp_customer] = await netsuite_customers(stack, "001NW0000000001")
    assert result.references.erp_customer_id == str(erp_customer["id"])


async def test_the_saga_completes_through_5xx_429_drops_and_timeouts_without_duplicating_anything(stack: Stack) -> None:
    faults = FaultConfig(
        seed=11,
        rules=[
            # Per request; an activity makes several, so most need a few attempts (each replays idempotently).
            FaultRule(kind="error", rate=0.1, status=503),
            FaultRule(kind="rate_limit", rate=0.1, retry_after_seconds=1),
            FaultRule(kind="drop", rate=0.05),
            FaultRule(kind="slow", rate=0.1, delay_seconds=3.0),  # past the adapters' 2 s timeout
        ],
    )
    for vendor in ("stripe", "netsuite"):
        stack.sandbox.faults[vendor].configure(faults)

    result = await close_and_await(stack, REFERENCE)

    assert result.status is SagaStatus.COMPLETED
    injected = {kind for v in ("stripe", "netsuite") for kind in stack.sandbox.faults[v].injected}
    assert injected == {"error", "rate_limit", "drop", "slow"}
    for vendor in ("stripe", "netsuite"):
        stack.sandbox.faults[vendor].configure(FaultConfig())
    await assert_one_of_each(stack, result)
