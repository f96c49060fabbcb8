"""The campaign's stack, one per scenario, in its own state dir: the Temporal dev server on its SQLite file and the
worker each in a process of their own (so either can be killed), the vendor emulators and the receiver in this
process (so faults can be set and counted), the Stripe customers on a test clock frozen at the contract start."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client

from adapters.store.database import sqlite_url
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from canonical.saga_policy import SagaPolicy
from cli.billing_year import CONTRACT_START
from cli.chaos.processes import ChildProcess, dev_server_process, until_server_answers, worker_process
from cli.sandbox import OUTBOUND_PATH
from cli.stacks import SANDBOX_STRIPE_WEBHOOK_SECRET, STRIPE_WEBHOOK_EVENTS, STRIPE_WEBHOOK_PATH
from cli.vendor_env import VendorSettings, adapter_env
from receiver.app import ReceiverSettings, create_receiver_app
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.servers import serve_apps
from sandbox.stack import VENDORS, RunningSandbox, SandboxOptions, run_sandbox, seed_sandbox
from sandbox.stripe.api_client import create_test_clock
from sandbox.stripe.settings import WebhookEndpointSettings
from workers.dev_server import DevServerOptions, free_port
from workers.vendor_systems import DATABASE_URL_ENV, sandbox_vendor_settings

HOST = "127.0.0.1"
# The adapters give up on a request after this long; the `slow` fault waits longer, so it is a timeout.
ADAPTER_TIMEOUT_SECONDS = 2.0
TIMEOUT_VARIABLES = tuple(f"Q2C_{vendor.upper()}_TIMEOUT_SECONDS" for vendor in VENDORS)


def campaign_policy(policy: SagaPolicy) -> SagaPolicy:
    """The shipped policy with retries and activity timeouts short enough that a campaign ends in minutes: an
    activity whose worker was killed is retried once its start-to-close timeout passes."""
    return policy.model_copy(
        update={
            "retry_initial_interval": timedelta(milliseconds=200),
            "retry_maximum_interval": timedelta(seconds=2),
            "activity_timeout": timedelta(seconds=8),
        }
    )


@dataclass
class Temporal:
    """The client of the current server: replaced when the server comes back, read by the receiver per event."""

    client: Client

    async def current(self) -> Client:
        return self.client


@dataclass
class CampaignStack:
    state_dir: Path
    server: ChildProcess
    server_options: DevServerOptions
    temporal: Temporal
    sandbox: RunningSandbox
    worker: ChildProcess
    vendor_settings: VendorSettings
    task_queue: str
    receiver_url: str
    clock: str
    worker_restarts: int = field(default=0)

    @property
    def client(self) -> Client:
        return self.temporal.client

    @property
    def address(self) -> str:
        return f"{self.server_options.ip}:{self.server_options.port}"

    async def restart_server(self) -> None:
        """Start the killed server again on the same SQLite file and ports; reconnect."""
        await self.server.start()
        self.temporal.client = await until_server_answers(self.address, self.server)

    async def restart_worker(self) -> None:
        await self.worker.start()
        self.worker_restarts += 1


@contextlib.asynccontextmanager
async def campaign_stack(
    state_dir: Path, rules: MappingRules, policy: SagaPolicy, deals: Sequence[CrmDeal]
) -> AsyncIterator[CampaignStack]:
    """Everything up, the deals seeded (open) in Salesforce, the worker polling; all stopped on exit."""
    state_dir.mkdir(parents=True, exist_ok=True)
    options = DevServerOptions(state_dir=state_dir, ip=HOST, port=free_port(), ui_port=free_port(), log_level="error")
    server = dev_server_process(options)
    await server.start()
    try:
        temporal = Temporal(await until_server_answers(f"{HOST}:{options.port}", server))
        task_queue = f"chaos-{uuid.uuid4()}"
        async with _vendors(state_dir, rules, policy, temporal, task_queue) as (sandbox, receiver_url):
            await seed_sandbox(sandbox, rules, deals)
            clock = await create_test_clock(sandbox_vendor_settings(sandbox)[2], CONTRACT_START)
            settings = sandbox_vendor_settings(
                sandbox, stripe_test_clock=clock, timeout_seconds=ADAPTER_TIMEOUT_SECONDS
            )
            worker = worker_process(state_dir / "worker.log", _worker_env(settings, options, task_queue, state_dir))
            await worker.start()
            try:
                yield CampaignStack(
                    state_dir, server, options, temporal, sandbox, worker, settings, task_queue, receiver_url, clock
                )
            finally:
                await worker.stop()
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _vendors(
    state_dir: Path, rules: MappingRules, policy: SagaPolicy, temporal: Temporal, task_queue: str
) -> AsyncIterator[tuple[RunningSandbox, str]]:
    """The emulators (Salesforce's Outbound Messages and Stripe's webhooks to the receiver) and the receiver."""
    receiver_port = free_port()
    receiver = create_receiver_app(
        temporal.current,
        ReceiverSettings(
            salesforce_organization_id=SalesforceEmulatorSettings().organization_id,
            task_queue=task_queue,
            stripe_webhook_secrets=(SecretStr(SANDBOX_STRIPE_WEBHOOK_SECRET),),
        ),
        lambda: policy,
    )
    receiver_url = f"http://{HOST}:{receiver_port}"
    options = SandboxOptions(
        state_dir=state_dir,
        host=HOST,
        ports={vendor: free_port() for vendor in VENDORS},
        outbound_listener_url=receiver_url + OUTBOUND_PATH,
        stripe_webhooks=(
            WebhookEndpointSettings(
                url=receiver_url + STRIPE_WEBHOOK_PATH,
                secret=SANDBOX_STRIPE_WEBHOOK_SECRET,
                enabled_events=STRIPE_WEBHOOK_EVENTS,
            ),
        ),
    )
    async with run_sandbox(options) as sandbox, serve_apps({"receiver": (receiver, receiver_port)}, HOST):
        yield sandbox, receiver_url


def _worker_env(settings: VendorSettings, server: DevServerOptions, task_queue: str, state_dir: Path) -> dict[str, str]:
    env = adapter_env(settings)
    env |= {name: str(ADAPTER_TIMEOUT_SECONDS) for name in TIMEOUT_VARIABLES}
    env |= {
        "Q2C_TEMPORAL_ADDRESS": f"{server.ip}:{server.port}",
        "Q2C_TEMPORAL_NAMESPACE": server.namespace,
        "Q2C_TASK_QUEUE": task_queue,
        DATABASE_URL_ENV: sqlite_url(state_dir / "q2c.sqlite"),
    }
    return env
