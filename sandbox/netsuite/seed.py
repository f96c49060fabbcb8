"""Seed the NetSuite emulator with q2c's reference data through its own REST API, idempotently (PUT `eid:`).

Currencies and payment terms, the chart of accounts, one subsidiary per legal entity (their internal IDs
must come out as the rules' `erp_subsidiary`, so they are created in that order and checked), one item per
ERP item with its income account, and calendar-month accounting periods Dec 2026 – Jan 2028. Re-running it
changes nothing, and leaves a period that was closed since closed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

import httpx

from canonical.mapping_rules import MappingRules

FIRST_PERIOD = (2026, 12)
LAST_PERIOD = (2028, 1)
CHART_OF_ACCOUNTS = (
    ("1000", "Cash", "Bank"),
    ("1100", "Accounts Receivable", "AcctRec"),
    ("1200", "Unbilled Receivable", "UnbilledRec"),
    ("1300", "Contract Asset", "OthCurrAsset"),
    ("2400", "Contract Liability (deferred revenue)", "DeferRevenue"),
    ("4000", "Subscription revenue", "Income"),
    ("4100", "Professional services revenue", "Income"),
    ("4200", "Usage revenue", "Income"),
)
CURRENCY_NAMES = {"USD": "US Dollar", "GBP": "British Pound", "EUR": "Euro", "CAD": "Canadian Dollar"}


class SeedError(RuntimeError):
    pass


@dataclass
class SeededIds:
    """Internal IDs by natural key, as the emulator assigned them."""

    currencies: dict[str, str] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    subsidiaries: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    periods: dict[str, str] = field(default_factory=dict)


def months(first: tuple[int, int] = FIRST_PERIOD, last: tuple[int, int] = LAST_PERIOD) -> list[tuple[int, int]]:
    year, month, found = *first, []
    while (year, month) <= last:
        found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


async def seed_netsuite(
    base_url: str, rules: MappingRules, *, access_token: str | None = None, timeout: float = 10.0
) -> SeededIds:
    """Without `access_token`, one is taken from the emulator's `/_sandbox/access-token`."""
    base = base_url.rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
        if access_token is None:
            response = await http.post("/_sandbox/access-token")
            response.raise_for_status()
            access_token = response.json()["access_token"]
        http.headers["Authorization"] = f"Bearer {access_token}"
        return await _seed(http, rules)


async def _upsert(http: httpx.AsyncClient, record_type: str, external_id: str, body: dict[str, object]) -> str:
    response = await http.put(f"/services/rest/record/v1/{record_type}/eid:{external_id}", json=body)
    if response.status_code != 204:
        raise SeedError(f"upserting {record_type} {external_id}: HTTP {response.status_code} {response.text}")
    return response.headers["Location"].rsplit("/", 1)[-1]


async def _seed(http: httpx.AsyncClient, rules: MappingRules) -> SeededIds:
    ids = SeededIds()
    for symbol in dict.fromkeys(c for entity in rules.legal_entities for c in entity.currencies):
        ids.currencies[symbol] = await _upsert(
            http, "currency", f"CUR-{symbol}", {"name": CURRENCY_NAMES.get(symbol, symbol), "symbol": symbol}
        )
    for terms in rules.payment_terms:
        ids.terms[terms.erp_terms] = await _upsert(
            http, "term", f"TERMS-{terms.days}", {"name": terms.erp_terms, "daysUntilNetDue": terms.days}
        )
    chart = list(CHART_OF_ACCOUNTS)
    known = {number for number, _, _ in chart}
    for product in rules.products:
        for number, kind in ((product.revenue_account, "Income"), (product.deferred_revenue_account, "DeferRevenue")):
            if number not in known:
                chart.append((number, f"Account {number}", kind))
                known.add(number)
    for number, name, kind in chart:
        ids.accounts[number] = await _upsert(
            http, "account", f"ACCT-{number}", {"acctNumber": number, "acctName": name, "acctType": kind}
        )
    for entity in sorted(rules.legal_entities, key=lambda e: (len(e.erp_subsidiary), e.erp_subsidiary)):
        body: dict[str, object] = {
            "name": entity.name,
            "country": entity.countries[0],
            "currency": {"id": ids.currencies[entity.currencies[0]]},
        }
        internal_id = await _upsert(http, "subsidiary", f"SUB-{entity.code}", body)
        if internal_id != entity.erp_subsidiary:
            raise SeedError(
                f"legal entity {entity.code} expects subsidiary {entity.erp_subsidiary}, but NetSuite gave it "
                f"{internal_id}: seed into an empty emulator, or correct erp_subsidiary in the mapping rules"
            )
        ids.subsidiaries[entity.code] = internal_id
    for product in rules.products:
        if product.erp_item not in ids.items:
            ids.items[product.erp_item] = await _upsert(
                http,
                "item",
                f"ITEM-{product.erp_item}",
                {
                    "itemId": product.erp_item,
                    "displayName": product.name,
                    "itemType": "Service",
                    "incomeAccount": {"id": ids.accounts[product.revenue_account]},
                },
            )
    for year, month in months():
        key = f"{year:04d}-{month:02d}"
        ids.periods[key] = await _upsert(
            http,
            "accountingPeriod",
            key,
            {
                "periodName": f"{calendar.month_abbr[month]} {year}",
                "startDate": date(year, month, 1).isoformat(),
                "endDate": date(year, month, calendar.monthrange(year, month)[1]).isoformat(),
            },
        )
    return ids
