"""The seed puts the demo's deals in through the emulator's REST API, keeps their IDs, and is idempotent."""

from __future__ import annotations

from adapters.memory.reference_deals import demo_deals
from sandbox.salesforce.seed import OPEN_STAGE, close_opportunity, seed_salesforce
from tests.sandbox.salesforce.conftest import API, RunningOrg


async def _totals(org: RunningOrg) -> dict[str, int]:
    async with await org.rest() as rest:
        return {
            sobject: (await rest.get(f"{API}/query", params={"q": f"SELECT Id FROM {sobject}"})).json()["totalSize"]
            for sobject in ("User", "Account", "Contact", "Product2", "Opportunity", "OpportunityLineItem")
        }


async def test_seeding_twice_creates_nothing_new_and_keeps_the_demo_ids(org: RunningOrg):
    settings = org.settings
    first = await seed_salesforce(org.url, settings.client_id, settings.client_secret, demo_deals())
    totals = await _totals(org)
    await close_opportunity(org.url, await org.token(), "006NW0000000001")
    second = await seed_salesforce(org.url, settings.client_id, settings.client_secret, demo_deals())

    assert totals == {"User": 2, "Account": 3, "Contact": 2, "Product2": 3, "Opportunity": 3, "OpportunityLineItem": 5}
    assert first.created == sum(totals.values()) - 1  # all but the integration user, which the org starts with
    assert second.created == 0 and second.updated > 0
    assert await _totals(org) == totals
    assert first.ids == second.ids
    assert {first.ids[d.opportunity.opportunity_id][:15] for d in demo_deals()} == {
        d.opportunity.opportunity_id for d in demo_deals()
    }
    assert first.ids["001NW0000000001"] == "001NW0000000001YAA"
    async with await org.rest() as rest:
        stages = [
            (await rest.get(f"{API}/sobjects/Opportunity/{d.opportunity.opportunity_id}")).json() for d in demo_deals()
        ]
    # Re-seeding never reopens a deal that was closed since.
    assert [(r["Id"], r["StageName"]) for r in stages] == [
        ("006NW0000000001YAA", "Closed Won"),
        ("006NW0000000003YAA", OPEN_STAGE),
        ("006NW0000000004YAA", OPEN_STAGE),
    ]
