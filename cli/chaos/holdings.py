"""What the emulators hold after a scenario, counted over their own APIs: duplicates of any record a saga writes,
the NetSuite ledger's balance, and the reconciliation of Stripe's invoices with NetSuite's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import stripe

from adapters.netsuite.client import NetSuiteClient
from cli.chaos.stack import CampaignStack
from sandbox.stripe.api_client import call, stripe_client

T = TypeVar("T", bound=stripe.StripeObject)
CHECK_TIMEOUT_SECONDS = 30.0

FINALIZED = {"open", "paid", "uncollectible"}


@dataclass
class Holdings:
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # what → the keys held more than once
    ledger_debit: Decimal = Decimal(0)
    ledger_credit: Decimal = Decimal(0)
    reconciliation_breaks: list[str] = field(default_factory=list)
    netsuite_customers: set[str] = field(default_factory=set)  # account external IDs
    stripe_customers: set[str] = field(default_factory=set)  # CRM account IDs
    finalized_invoices: list[str] = field(default_factory=list)  # Stripe invoice IDs

    @property
    def duplicates_found(self) -> int:
        return sum(len(keys) for keys in self.duplicates.values())

    @property
    def ledger_balanced(self) -> bool:
        return self.ledger_debit == self.ledger_credit


def repeated(keys: Iterable[str | None]) -> list[str]:
    return sorted(key for key, times in Counter(k for k in keys if k).items() if times > 1)


async def holdings(stack: CampaignStack) -> Holdings:
    found = Holdings()
    # The campaign's checks read whole tables while the last sagas may still be posting: not the adapters' 2 s.
    netsuite = NetSuiteClient(stack.vendor_settings[1].model_copy(update={"timeout_seconds": CHECK_TIMEOUT_SECONDS}))
    try:
        customers = await netsuite.suiteql("SELECT id, externalid FROM customer")
        transactions = await netsuite.suiteql("SELECT id, type, externalid, foreigntotal FROM transaction")
        [totals] = await netsuite.suiteql(
            "SELECT SUM(debit) AS debit, SUM(credit) AS credit FROM transactionaccountingline WHERE posting = 'T'"
        )
    finally:
        await netsuite.aclose()
    found.netsuite_customers = {str(row["externalid"]) for row in customers if row.get("externalid")}
    found.duplicates["netsuite customer"] = repeated(row.get("externalid") for row in customers)
    for kind in sorted({str(row["type"]) for row in transactions}):
        of_kind = [row for row in transactions if row["type"] == kind]
        found.duplicates[f"netsuite {kind}"] = repeated(row.get("externalid") for row in of_kind)
    found.ledger_debit, found.ledger_credit = Decimal(totals.get("debit") or 0), Decimal(totals.get("credit") or 0)
    async with stripe_client(stack.vendor_settings[2]) as client:
        await _stripe_holdings(client, stack.clock, found, transactions)
    return found


async def _stripe_holdings(
    client: stripe.StripeClient, clock: str, found: Holdings, transactions: list[dict[str, Any]]
) -> None:
    # Stripe lists a test clock's customers and subscriptions only when asked for that clock.
    customers = await _every(lambda: client.v1.customers.list_async({"limit": 100, "test_clock": clock}))
    accounts = [_metadata(c.metadata, "crm_account_id") for c in customers]
    found.stripe_customers = {account for account in accounts if account}
    found.duplicates["stripe customer"] = repeated(accounts)
    subscriptions = await _every(
        lambda: client.v1.subscriptions.list_async({"limit": 100, "status": "all", "test_clock": clock})
    )
    live = [s for s in subscriptions if s.status not in ("canceled", "incomplete_expired")]
    found.duplicates["stripe subscription"] = repeated(_metadata(s.metadata, "contract_id") for s in live)
    finalized = await _finalized(client)
    found.finalized_invoices = [str(invoice.id) for invoice in finalized]
    found.reconciliation_breaks = reconciliation_breaks(finalized, transactions)


def reconciliation_breaks(invoices: Iterable[stripe.Invoice], transactions: list[dict[str, Any]]) -> list[str]:
    """Each finalized Stripe invoice against the NetSuite invoice posted for it (external ID = the Stripe ID):
    missing, or a different total. (q2c's own reconciliation is not built yet; this is its check, done here.)"""
    posted = {
        str(row["externalid"]): row for row in transactions if row["type"] == "CustInvc" and row.get("externalid")
    }
    breaks = []
    for invoice in invoices:
        row = posted.get(str(invoice.id))
        billed = Decimal(invoice.total) / 100  # the campaign's deals are in USD: two decimals
        if row is None:
            breaks.append(f"{invoice.id}: not in NetSuite")
        elif Decimal(str(row["foreigntotal"])) != billed:
            breaks.append(f"{invoice.id}: Stripe {billed} against NetSuite {row['foreigntotal']}")
    return breaks


def _metadata(metadata: Any, key: str) -> str | None:
    return None if metadata is None or key not in metadata else str(metadata[key])


async def finalized_invoices(stack: CampaignStack) -> list[stripe.Invoice]:
    async with stripe_client(stack.vendor_settings[2]) as client:
        return await _finalized(client)


async def _finalized(client: stripe.StripeClient) -> list[stripe.Invoice]:
    invoices = await _every(lambda: client.v1.invoices.list_async({"limit": 100}))
    return [invoice for invoice in invoices if invoice.status in FINALIZED]


async def _every(listing: Callable[[], Awaitable[stripe.ListObject[T]]]) -> list[T]:
    """Every page of a Stripe list; the whole listing again when Stripe's rate limit (429) stops it midway, since
    the worker's sagas share the limit with the campaign's checks."""

    async def pages() -> list[T]:
        return [item async for item in (await listing()).auto_paging_iter()]

    return await call(pages)
