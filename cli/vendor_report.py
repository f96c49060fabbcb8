"""What each vendor system holds after the demo, read through its own API as the adapters reach it: Salesforce by
SOQL over REST, Stripe Billing with the official library, NetSuite by SuiteQL. Money is exact: Stripe's integer
minor units become Decimals through the currency's ISO 4217 exponent, never through a float."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe

from adapters.errors import AdapterError
from adapters.memory.systems import InMemoryRevenue
from adapters.netsuite.client import NetSuiteClient
from adapters.netsuite.settings import NetSuiteSettings
from adapters.revenue_engine import BuiltInRevenueEngine
from adapters.salesforce import fields as sf
from adapters.salesforce.client import SalesforceRestClient
from adapters.salesforce.settings import SalesforceSettings
from adapters.stripe.settings import StripeSettings
from canonical.money import Money
from cli import output
from cli.billing_year import invoices_of
from cli.vendor_env import VendorSettings
from sandbox.stripe.api_client import call, stripe_client

Q2C_FIELDS = (
    sf.Q2C_STATUS,
    sf.Q2C_CONTRACT_ID,
    sf.Q2C_ERP_CUSTOMER_ID,
    sf.Q2C_BILLING_CUSTOMER_ID,
    sf.Q2C_SUBSCRIPTION_ID,
    sf.Q2C_REVENUE_CONTRACT_ID,
    sf.Q2C_SAGA_ID,
    sf.Q2C_MESSAGE,
)
OPPORTUNITIES_SOQL = f"SELECT Id, Name, StageName, {', '.join(Q2C_FIELDS)} FROM Opportunity ORDER BY Id"
CUSTOMERS_SUITEQL = "SELECT id, companyname, externalid, isinactive, subsidiary, terms FROM customer ORDER BY id"
INDENT = output.INDENT


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = INDENT) -> list[str]:
    return output.table(headers, rows, indent=indent) if rows else [f"{indent}(none)"]


async def vendor_report(settings: VendorSettings, revenue: object = None) -> list[str]:
    crm, erp, billing = settings
    lines = ["Salesforce: the seeded opportunities and what the sagas wrote back (SOQL over the REST API)"]
    lines += await salesforce_lines(crm)
    lines += ["", "Stripe Billing: customers, subscriptions and invoices (the official stripe library)"]
    lines += await stripe_lines(billing)
    lines += ["", "NetSuite: customers (SuiteQL)"]
    lines += await netsuite_lines(erp)
    if isinstance(revenue, BuiltInRevenueEngine):
        lines += ["", "Revenue: q2c's built-in ASC 606 engine (its events are kept in q2c's database)"]
        lines += revenue_lines(revenue)
    return lines


def revenue_lines(revenue: InMemoryRevenue | BuiltInRevenueEngine) -> list[str]:
    """The revenue contracts: for the built-in engine, how each one's price is allocated to its obligations."""
    if isinstance(revenue, InMemoryRevenue):
        rows = [
            [r.revenue_contract_id, r.contract_id, str(r.obligations), r.status] for r in revenue.contracts.values()
        ]
        return table(["ID", "CONTRACT", "OBLIGATIONS", "STATUS"], rows)
    lines: list[str] = []
    for registered in revenue.contracts.values():
        allocation = registered.allocation
        lines.append(
            f"{INDENT}{registered.revenue_contract_id}  {registered.status}, transaction price "
            f"{output.money(allocation.transaction_price)}, subscription {registered.billing_subscription_id}"
        )
        rows = []
        for line in allocation.lines:
            obligation = line.obligation
            when = f"on {obligation.milestone}" if obligation.milestone else f"{obligation.start}..{obligation.end}"
            ssp = output.money(line.standalone_selling_price) if line.standalone_selling_price else "-"
            allocated = "as used" if line.obligation.usage is not None else output.money(line.amount)
            kind = obligation.satisfaction.value
            rows.append(
                [str(obligation.line_no), obligation.product_code, kind, when, ssp, line.method.value, allocated]
            )
        headers = ["LINE", "PRODUCT", "SATISFIED", "WHEN", "SSP", "METHOD", "ALLOCATED"]
        lines += table(headers, rows, indent=INDENT * 2)
    return lines or [f"{INDENT}(none)"]


# --- Salesforce ----------------------------------------------------------------------------------------


async def salesforce_lines(settings: SalesforceSettings) -> list[str]:
    client = SalesforceRestClient(settings)
    try:
        records = await client.query_all(OPPORTUNITIES_SOQL, "reading the opportunities")
    except AdapterError as error:
        return [f"{INDENT}could not read Salesforce: {error}"]
    finally:
        await client.aclose()
    lines = output.wrapped(OPPORTUNITIES_SOQL, indent=INDENT)
    for record in records:
        lines.append(f"{INDENT}{str(record['Id'])[:15]}  {record['Name']}  [{record['StageName']}]")
        written = [(name, str(record[name])) for name in Q2C_FIELDS if record.get(name)]
        lines += output.fields(written, indent=INDENT * 3) if written else [f"{INDENT * 3}no Q2C_* field written"]
    return lines


# --- Stripe --------------------------------------------------------------------------------------------


def amount(minor_units: int | str | Decimal | None, currency: str, *, code: bool = True) -> str:
    """Stripe's integer (or `_decimal` string) minor units as exact money, the way `output.money` prints it."""
    if minor_units is None:
        return "-"
    iso = currency.upper()
    money = Money.of(Decimal(minor_units).scaleb(-Money.zero(iso).minor_unit_digits), iso)
    return output.money(money) if code else f"{money.amount:,f}"


def day(moment: int | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


def period(start: int, end: int) -> str:
    """A calendar month as `Jan 2027`, any other period as its first and last day."""
    first, after = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    if first.day == 1 and after.day == 1 and (after.year * 12 + after.month) - (first.year * 12 + first.month) == 1:
        return first.strftime("%b %Y")
    return f"{day(start)}..{(after - timedelta(days=1)).strftime('%Y-%m-%d')}"


async def stripe_lines(settings: StripeSettings) -> list[str]:
    async with stripe_client(settings) as client:
        try:
            return await _stripe_lines(client, settings.test_clock)
        except stripe.StripeError as error:
            return [f"{INDENT}could not read Stripe: {error}"]


async def _stripe_lines(client: stripe.StripeClient, test_clock: str | None) -> list[str]:
    # Stripe lists a test clock's customers only when asked for that clock.
    listings: list[Any] = [{"limit": 100}] + ([{"limit": 100, "test_clock": test_clock}] if test_clock else [])
    customers: dict[str, stripe.Customer] = {}
    for listing in listings:
        page = await call(lambda p=listing: client.v1.customers.list_async(params=p))  # type: ignore[misc]
        customers.update((customer.id, customer) for customer in page.data)
    if not customers:
        return [f"{INDENT}(no customers)"]
    lines: list[str] = []
    for customer in sorted(customers.values(), key=lambda c: (_crm_account(c), c.created, c.id)):
        clock = f", test clock {_id(customer.test_clock)}" if customer.test_clock else ""
        lines.append(f"{INDENT}Customer {customer.id}  {customer.name}  (CRM account {_crm_account(customer)}{clock})")
        wanted: Any = {"customer": customer.id, "status": "all", "limit": 100}
        subscriptions = await call(lambda p=wanted: client.v1.subscriptions.list_async(params=p))  # type: ignore[misc]
        metered: set[str] = set()
        for subscription in subscriptions.data:
            lines += _subscription_lines(subscription, metered)
        lines += _invoice_lines(await invoices_of(client, customer.id), metered)
    return lines


def _crm_account(customer: stripe.Customer) -> str:
    metadata = customer.metadata
    return str(metadata["crm_account_id"]) if metadata and "crm_account_id" in metadata else "-"


def _id(value: Any) -> str:
    return str(value if isinstance(value, str) else value.id)


def _subscription_lines(subscription: stripe.Subscription, metered: set[str]) -> list[str]:
    """The subscription and its items; adds the IDs of its metered prices to `metered`."""
    if subscription.ended_at:
        state = f"{subscription.status}, ended {day(subscription.ended_at)}"
    else:
        state = subscription.status + (f", cancels {day(subscription.cancel_at)}" if subscription.cancel_at else "")
    lines = [f"{INDENT * 2}Subscription {subscription.id}  {state}"]
    for item in subscription["items"]["data"]:
        price = item.price
        recurring = price.recurring
        if recurring is not None and recurring.usage_type == "metered":
            metered.add(price.id)
            what = f"metered, {price.tiers_mode or price.billing_scheme} tiers, billed monthly in arrears"
        else:
            per = f" per {recurring.interval}" if recurring else ""
            what = f"{item.quantity} x {amount(price.unit_amount_decimal, price.currency)}{per}"
        lines.append(f"{INDENT * 3}{_id(price.product)}: {what}  ({price.nickname or price.id})")
    return lines


INVOICE_HEADERS = ["NUMBER", "DATE", "IN ADVANCE", "USAGE IN ARREARS", "ONE-TIME", "TOTAL", "STATUS", "DUE"]


def _invoice_lines(invoices: list[stripe.Invoice], metered: set[str]) -> list[str]:
    """One row per invoice, oldest first: what it bills in advance, for usage, once; and the sums of each."""
    if not invoices:
        return [f"{INDENT * 2}Invoices: none"]
    currencies = {invoice.currency for invoice in invoices}
    code = len(currencies) > 1  # one currency: it goes in the headers
    sums = {"in advance": 0, "usage": 0, "one-time": 0}
    rows = []
    for invoice in sorted(invoices, key=lambda i: (i.created, i.id)):
        parts: dict[str, list[str]] = {kind: [] for kind in sums}
        for line in invoice.lines.data:
            kind = _kind(line, metered)
            sums[kind] += line.amount
            shown = amount(line.amount, invoice.currency, code=code)
            if kind == "one-time":
                parts[kind].append(shown)
            elif kind == "usage":
                parts[kind].append(f"{period(line.period.start, line.period.end)}: {line.quantity:,} units, {shown}")
            else:
                parts[kind].append(f"{period(line.period.start, line.period.end)}: {shown}")
        more = " (+ more lines)" if invoice.lines.has_more else ""
        rows.append(
            [
                invoice.number or invoice.id,
                day(invoice.created),
                *("; ".join(parts[kind]) or "-" for kind in sums),
                amount(invoice.total, invoice.currency, code=code) + more,
                invoice.status or "-",
                day(invoice.due_date),
            ]
        )
    lines = [f"{INDENT * 2}Invoices ({len(invoices)}; DATE and DUE by the test clock)"]
    if code:
        return lines + table(INVOICE_HEADERS, rows, indent=INDENT * 3)
    currency = currencies.pop()
    headers = [f"{header} ({currency.upper()})" if header == "TOTAL" else header for header in INVOICE_HEADERS]
    lines += table(headers, rows, indent=INDENT * 3)
    total = sum(invoice.total for invoice in invoices)
    split = " + ".join(f"{amount(value, currency, code=False)} {kind}" for kind, value in sums.items() if value)
    return [*lines, f"{INDENT * 3}invoiced in all: {amount(total, currency)} = {split}"]


def _kind(line: stripe.InvoiceLineItem, metered: set[str]) -> str:
    parent = line.parent
    if parent is None or parent.type != "subscription_item_details":
        return "one-time"
    details = line.pricing.price_details if line.pricing else None
    return "usage" if details is not None and _id(details.price) in metered else "in advance"


# --- NetSuite ------------------------------------------------------------------------------------------


async def netsuite_lines(settings: NetSuiteSettings) -> list[str]:
    client = NetSuiteClient(settings)
    try:
        rows = await client.suiteql(CUSTOMERS_SUITEQL)
        names = {
            table_name: {
                str(r["id"]): str(r.get("name")) for r in await client.suiteql(f"SELECT id, name FROM {table_name}")
            }
            for table_name in ("subsidiary", "term")
        }
    except AdapterError as error:
        return [f"{INDENT}could not read NetSuite: {error}"]
    finally:
        await client.aclose()

    def named(table_name: str, internal_id: object) -> str:
        if internal_id is None:
            return "-"
        return f"{names[table_name].get(str(internal_id), '?')} ({internal_id})"

    shown = [
        [
            str(r.get("id")),
            str(r.get("companyname") or "-"),
            str(r.get("externalid") or "-"),
            "inactive" if r.get("isinactive") == "T" else "active",
            named("subsidiary", r.get("subsidiary")),
            named("term", r.get("terms")),
        ]
        for r in rows
    ]
    return [
        *output.wrapped(CUSTOMERS_SUITEQL, indent=INDENT),
        *table(["ID", "NAME", "EXTERNAL ID (CRM ACCOUNT)", "STATUS", "SUBSIDIARY", "TERMS"], shown),
    ]
