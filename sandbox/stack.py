"""The whole local vendor sandbox: Salesforce, Stripe Billing and NetSuite emulators, each on its own port,
persisted in SQLite files under a state folder (or in PostgreSQL schemas), seeded with the demo's data.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from canonical.crm_amendment import CrmAmendment
from canonical.crm_deal import CrmDeal
from canonical.mapping_rules import MappingRules
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.netsuite.app import create_app as create_netsuite
from sandbox.netsuite.seed import seed_netsuite
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.ports import DEFAULT_PORTS
from sandbox.salesforce.app import create_app as create_salesforce
from sandbox.salesforce.seed import seed_salesforce
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.servers import serve_apps
from sandbox.store import DocumentStore, sqlite_url
from sandbox.stripe.app import create_app as create_stripe
from sandbox.stripe.seed import seed_stripe
from sandbox.stripe.settings import StripeEmulatorSettings, WebhookEndpointSettings

VENDORS = ("salesforce", "stripe", "netsuite")


@dataclass(frozen=True)
class SandboxOptions:
    state_dir: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    postgres_url: str | None = None  # postgresql+asyncpg://…; one schema per emulator. None: SQLite files
    outbound_listener_url: str | None = None  # where Salesforce delivers Outbound Messages
    stripe_webhooks: tuple[WebhookEndpointSettings, ...] = ()
    faults: FaultConfig | None = None


@dataclass(frozen=True)
class RunningSandbox:
    urls: dict[str, str]
    salesforce: SalesforceEmulatorSettings
    stripe: StripeEmulatorSettings
    netsuite: NetSuiteEmulatorSettings
    faults: dict[str, FaultInjector]
    state_dir: Path

    @property
    def stripe_api_key(self) -> str:
        return self.stripe.api_keys[0]


@contextlib.asynccontextmanager
async def run_sandbox(options: SandboxOptions) -> AsyncIterator[RunningSandbox]:
    options.state_dir.mkdir(parents=True, exist_ok=True)
    settings = (
        SalesforceEmulatorSettings(outbound_listener_url=options.outbound_listener_url),
        StripeEmulatorSettings(webhook_endpoints=options.stripe_webhooks),
        NetSuiteEmulatorSettings(),
    )
    faults = {vendor: FaultInjector(options.faults) for vendor in VENDORS}
    stores = [_store(options, vendor) for vendor in VENDORS]
    for store in stores:
        await store.open()
    factories = (create_salesforce, create_stripe, create_netsuite)
    try:
        apps: dict[str, tuple[FastAPI, int]] = {
            vendor: (factory(store, faults[vendor], vendor_settings), options.ports[vendor])  # type: ignore[operator]
            for vendor, factory, store, vendor_settings in zip(VENDORS, factories, stores, settings, strict=True)
        }
        async with serve_apps(apps, options.host) as urls:
            yield RunningSandbox(urls, *settings, faults=faults, state_dir=options.state_dir)
    finally:
        for store in stores:
            await store.close()


async def seed_sandbox(
    sandbox: RunningSandbox,
    rules: MappingRules,
    deals: Sequence[CrmDeal],
    amendments: Sequence[CrmAmendment] = (),
) -> None:
    """Put the demo's data in through each emulator's own API; running it again creates nothing."""
    await seed_salesforce(
        sandbox.urls["salesforce"],
        sandbox.salesforce.client_id,
        sandbox.salesforce.client_secret,
        deals,
        amendments=amendments,
    )
    await seed_stripe(sandbox.urls["stripe"], sandbox.stripe_api_key, rules)
    await seed_netsuite(sandbox.urls["netsuite"], rules)


def _store(options: SandboxOptions, vendor: str) -> DocumentStore:
    if options.postgres_url:
        return DocumentStore(options.postgres_url, postgres_schema=f"q2c_sandbox_{vendor}")
    return DocumentStore(sqlite_url(options.state_dir / f"{vendor}.sqlite"))
