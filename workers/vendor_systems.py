"""Which systems a worker talks to: the vendors over HTTP (Salesforce, Stripe Billing, NetSuite) or the
in-memory ones. Switching from the local emulators to a vendor's own sandbox is configuration only.

The revenue role is q2c's built-in engine (`adapters.revenue_engine`), kept as events in q2c's database
(`Q2C_DATABASE_URL`: a SQLite file by default, PostgreSQL in production), so several workers share it and a
restart loses nothing. With the vendors, the worker also runs the invoice → revenue and amendment sagas.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from adapters.netsuite.erp import NetSuiteErp
from adapters.netsuite.settings import NetSuiteAuthMode, NetSuiteSettings
from adapters.ports import AmendmentPorts, InvoicingPorts, SystemPorts
from adapters.revenue_engine import IN_MEMORY, BuiltInRevenueEngine
from adapters.salesforce.crm import SalesforceCrm
from adapters.salesforce.settings import SalesforceSettings
from adapters.store.database import sqlite_url
from adapters.store.store import OperationalStore
from adapters.stripe.billing import StripeBilling
from adapters.stripe.settings import StripeSettings
from canonical.mapping_rules import MappingRules
from sandbox.stack import RunningSandbox
from workers.reconciliation_systems import reconciliation_ports

DATABASE_URL_ENV = "Q2C_DATABASE_URL"
DATABASE_FILE_NAME = "q2c.sqlite"
IN_MEMORY_STORE = "sqlite+aiosqlite://"  # the operational store of the in-memory systems: it lasts as long as they do


def database_url_from_env(default_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """`Q2C_DATABASE_URL`, or a SQLite file in `default_dir`."""
    environ = os.environ if environ is None else environ
    return environ.get(DATABASE_URL_ENV) or sqlite_url(default_dir / DATABASE_FILE_NAME)


@contextlib.asynccontextmanager
async def vendor_systems(
    crm: SalesforceSettings,
    erp: NetSuiteSettings,
    billing: StripeSettings,
    rules: MappingRules,
    database_url: str = IN_MEMORY,
) -> AsyncIterator[SystemPorts]:
    """The vendor adapters, and the revenue engine and operational store on `database_url` (default: in memory,
    for tests)."""
    salesforce, netsuite, stripe = SalesforceCrm(crm), NetSuiteErp.from_rules(erp, rules), StripeBilling(billing)
    revenue = BuiltInRevenueEngine(database_url)
    store: OperationalStore | None = None
    try:
        await revenue.open()
        store = await OperationalStore.open(database_url)
        invoicing = InvoicingPorts(billing=stripe, ledger=netsuite, revenue=revenue, crm=salesforce)
        amendments = AmendmentPorts(crm=salesforce, billing=stripe, revenue=revenue)
        yield SystemPorts(
            crm=salesforce,
            erp=netsuite,
            billing=stripe,
            revenue=revenue,
            invoicing=invoicing,
            amendments=amendments,
            store=store,
            reconciliation=reconciliation_ports(stripe, netsuite, revenue, store, rules),
        )
    finally:
        if store is not None:
            await store.close()
        await revenue.aclose()
        await salesforce.aclose()
        await netsuite.aclose()
        await stripe.aclose()


def vendor_settings_from_env(
    environ: Mapping[str, str] | None = None,
) -> tuple[SalesforceSettings, NetSuiteSettings, StripeSettings]:
    """`Q2C_SALESFORCE_*`, `Q2C_NETSUITE_*`, `Q2C_STRIPE_*` (see README, "Vendor connections")."""
    return (
        SalesforceSettings.from_env(environ),
        NetSuiteSettings.from_env(environ),
        StripeSettings.from_env(environ),
    )


def sandbox_vendor_settings(
    sandbox: RunningSandbox, stripe_test_clock: str | None = None, timeout_seconds: float | None = None
) -> tuple[SalesforceSettings, NetSuiteSettings, StripeSettings]:
    """Adapter settings that reach the local emulators with their built-in development credentials.

    `timeout_seconds` shortens every adapter's HTTP timeout (the fault tests make the emulators slower than it).
    """
    timeout = {} if timeout_seconds is None else {"timeout_seconds": timeout_seconds}
    tba = sandbox.netsuite.tba_credentials[0]
    return (
        SalesforceSettings(
            base_url=sandbox.urls["salesforce"],
            client_id=sandbox.salesforce.client_id,
            client_secret=sandbox.salesforce.client_secret,
            **timeout,
        ),
        NetSuiteSettings(
            base_url=sandbox.urls["netsuite"],
            account_id=sandbox.netsuite.account_id,
            auth=NetSuiteAuthMode.TBA,
            consumer_key=tba.consumer_key,
            consumer_secret=tba.consumer_secret,
            token_id=tba.token_id,
            token_secret=tba.token_secret,
            **timeout,
        ),
        StripeSettings(
            api_key=sandbox.stripe_api_key,
            base_url=sandbox.urls["stripe"],
            test_clock=stripe_test_clock,
            **timeout,
        ),
    )
