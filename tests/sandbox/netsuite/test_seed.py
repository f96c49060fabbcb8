"""Seeding through the emulator's own API: the rules' reference data, idempotently, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from canonical.general_ledger import InvoiceLine, InvoicePosting
from canonical.mapping_rules import MappingRules
from sandbox.netsuite import seed_netsuite
from sandbox.store import DocumentStore
from tests.sandbox.netsuite.conftest import Emulator, KeyPair, customer, running_emulator


async def _count(emulator: Emulator, record_type: str) -> int:
    async with emulator.admin() as http:
        return int((await http.get(f"/record/v1/{record_type}", params={"limit": 1000})).json()["totalResults"])


async def test_seed_is_idempotent_and_follows_the_rules(emulator: Emulator, mapping_rules: MappingRules) -> None:
    types = ("currency", "term", "account", "subsidiary", "item", "accountingPeriod")
    before = {t: await _count(emulator, t) for t in types}
    await emulator.close_period("2026-12")
    again = await seed_netsuite(emulator.base_url, mapping_rules)

    assert again == emulator.ids
    assert {t: await _count(emulator, t) for t in types} == before
    assert before["accountingPeriod"] == 14 and before["item"] == len({p.erp_item for p in mapping_rules.products})
    periods = await emulator.suiteql("SELECT periodname, closed FROM accountingperiod ORDER BY startdate")
    assert [p["periodname"] for p in periods][:2] == ["Dec 2026", "Jan 2027"] and periods[-1][
        "periodname"
    ] == "Jan 2028"
    assert periods[0]["closed"] == "T"  # re-seeding did not reopen it
    items = {r["itemid"]: r["incomeaccount"] for r in await emulator.suiteql("SELECT itemid, incomeaccount FROM item")}
    for product in mapping_rules.products:
        assert items[product.erp_item] == emulator.ids.accounts[product.revenue_account]
    subsidiaries = await emulator.suiteql("SELECT id, name FROM subsidiary ORDER BY id")
    assert [(s["id"], s["name"]) for s in subsidiaries] == [
        (e.erp_subsidiary, e.name) for e in sorted(mapping_rules.legal_entities, key=lambda e: e.erp_subsidiary)
    ]


async def test_end_to_end_on_each_store(
    document_store: DocumentStore, keys: dict[str, KeyPair], mapping_rules: MappingRules
) -> None:
    async with running_emulator(document_store, keys, mapping_rules) as emulator, emulator.erp("tba") as erp:
        match = await erp.match_or_create_customer(customer(), "saga-store/erp_customer")
        posted = await erp.post_invoice(
            InvoicePosting(
                external_id="in_store",
                customer_id=match.customer_id,
                tran_date=date(2027, 6, 30),
                currency="USD",
                lines=(InvoiceLine(item="SUB-PREMIUM", rate=Decimal("2000.00"), amount=Decimal("2000.00")),),
            )
        )
        balance = await erp.trial_balance(posted.posting_period_id)
        assert await seed_netsuite(emulator.base_url, mapping_rules) == emulator.ids
    assert balance.period.name == "Jun 2027" and balance.is_balanced and balance.total_debit == Decimal("2000.00")
