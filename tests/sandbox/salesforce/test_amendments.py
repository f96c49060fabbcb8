"""Amendments in the Salesforce emulator: the seeded reference amendment read by the adapter over real HTTP, and the
amendment saga's outcome written back and read by SOQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from adapters.errors import NotFoundError, PermanentAdapterError
from adapters.memory.reference_deals import AMENDMENT_OPPORTUNITY, reference_amendment, reference_deal
from canonical.amendment import CrmAmendmentOutcome
from canonical.amendment_mapping import build_amendment
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.money import Money
from sandbox.salesforce.seed import OPEN_STAGE, SeedError, close_opportunity, seed_salesforce
from tests.sandbox.salesforce.conftest import API, RunningOrg

OUTCOME_FIELDS = (
    "Q2C_Status__c",
    "Q2C_Saga_Id__c",
    "Q2C_Contract_Id__c",
    "Q2C_Contract_Version__c",
    "Q2C_Total_Contract_Value__c",
    "Q2C_Invoice_Ids__c",
    "Q2C_Credit_Note_Ids__c",
    "Q2C_Message__c",
)


async def seed_amendment(org: RunningOrg) -> dict[str, str]:
    settings = org.settings
    result = await seed_salesforce(
        org.url, settings.client_id, settings.client_secret, (), amendments=(reference_amendment(),)
    )
    return result.ids


@pytest.fixture
async def amended(seeded: RunningOrg) -> AsyncIterator[RunningOrg]:
    """The demo's deals and the reference amendment, all open."""
    await seed_amendment(seeded)
    yield seeded


async def soql(org: RunningOrg, query: str) -> list[dict[str, Any]]:
    async with await org.rest() as rest:
        response = await rest.get(f"{API}/query", params={"q": query})
    assert response.status_code == 200, response.text
    return list(json.loads(response.content, parse_float=Decimal)["records"])  # numbers exact, as the adapter reads


async def count(org: RunningOrg, sobject: str) -> int:
    async with await org.rest() as rest:
        response = await rest.get(f"{API}/query", params={"q": f"SELECT Id FROM {sobject}"})
    return int(response.json()["totalSize"])  # the records come in batches of two here; the total is all of them


def outcome(**changes: Any) -> CrmAmendmentOutcome:
    fields: dict[str, Any] = {
        "workflow_id": f"amendment/{AMENDMENT_OPPORTUNITY}",
        "status": "completed",
        "contract_id": "CTR-006NW0000000001",
        "contract_version": 2,
        "total_contract_value": Money.of("164564.52", "USD"),
        "invoice_ids": ("in_1Amend", "in_2Amend"),
        "credit_note_ids": ("cn_1Amend",),
        "message": "",
    }
    return CrmAmendmentOutcome(**(fields | changes))


async def written_outcome(org: RunningOrg) -> dict[str, Any]:
    [record] = await soql(
        org, f"SELECT {', '.join(OUTCOME_FIELDS)} FROM Opportunity WHERE Id = '{AMENDMENT_OPPORTUNITY}'"
    )
    return {name: record[name] for name in OUTCOME_FIELDS}


# -- fetch_amendment ---------------------------------------------------------------------------------------------


async def test_the_seeded_amendment_reads_back_as_the_crm_holds_it(amended: RunningOrg, mapping_rules: MappingRules):
    token = await amended.token()
    async with amended.adapter() as crm:
        open_amendment = await crm.fetch_amendment(AMENDMENT_OPPORTUNITY)
        for opportunity_id in (reference_deal().opportunity.opportunity_id, AMENDMENT_OPPORTUNITY):
            await close_opportunity(amended.url, token, opportunity_id)
        signed = await crm.fetch_amendment(AMENDMENT_OPPORTUNITY + "YAA")  # the 18-character form, same record
        deal = await crm.fetch_deal(reference_deal().opportunity.opportunity_id)

    assert open_amendment == reference_amendment().model_copy(update={"stage": OPEN_STAGE})
    assert signed == reference_amendment()
    quantity, price = signed.changes[0].quantity, signed.changes[1].net_unit_price
    assert isinstance(quantity, Decimal) and quantity == 150
    assert isinstance(price, Decimal) and price == Decimal("2000.00")
    # Read from Salesforce, the deal and its amendment make the reference contract's version 2.
    contract = build_contract(deal, mapping_rules)
    assert build_amendment(signed, contract, mapping_rules) == build_amendment(
        reference_amendment(), build_contract(reference_deal(), mapping_rules), mapping_rules
    )


async def test_the_amendment_is_an_opportunity_of_type_amendment_with_its_changes_as_line_items(amended: RunningOrg):
    [opportunity] = await soql(
        amended,
        "SELECT Type, StageName, Account.Name, Q2C_Amended_Contract_Id__c, Q2C_Amended_Contract_Version__c, "
        "Q2C_Effective_At__c, Q2C_Priced_At_SSP__c FROM Opportunity "
        "WHERE Q2C_Effective_At__c = 2027-07-15T00:00:00Z AND Type = 'Amendment'",
    )
    lines = await soql(
        amended,
        "SELECT Line_No__c, Product2.ProductCode, Q2C_Change__c, Q2C_Contract_Line__c, Quantity, UnitPrice "
        f"FROM OpportunityLineItem WHERE OpportunityId = '{AMENDMENT_OPPORTUNITY}' ORDER BY Line_No__c",
    )

    assert {k: v for k, v in opportunity.items() if k not in {"attributes", "Account"}} == {
        "Type": "Amendment",
        "StageName": OPEN_STAGE,
        "Q2C_Amended_Contract_Id__c": "CTR-006NW0000000001",
        "Q2C_Amended_Contract_Version__c": Decimal(1),
        "Q2C_Effective_At__c": "2027-07-15T00:00:00.000+0000",
        "Q2C_Priced_At_SSP__c": False,
    }
    assert opportunity["Account"]["Name"] == "Northwind Analytics Inc."  # the contract's customer
    assert [
        (r["Product2"]["ProductCode"], r["Q2C_Change__c"], r["Q2C_Contract_Line__c"], r["Quantity"], r["UnitPrice"])
        for r in lines
    ] == [
        ("PLAT-SEAT", "quantity", Decimal(1), Decimal(150), Decimal(90)),
        ("PREM-MOD", "add_product", None, Decimal(1), Decimal(2000)),
    ]


async def test_seeding_the_amendment_again_creates_nothing_and_keeps_its_id(amended: RunningOrg):
    before = await count(amended, "OpportunityLineItem")
    await close_opportunity(amended.url, await amended.token(), AMENDMENT_OPPORTUNITY)

    ids = await seed_amendment(amended)

    assert ids[AMENDMENT_OPPORTUNITY] == "006NW0000000002YAA"
    assert await count(amended, "OpportunityLineItem") == before == 5 + 2  # the deals' five, the amendment's two
    assert await count(amended, "Opportunity") == 3 + 1
    [opportunity] = await soql(amended, f"SELECT StageName FROM Opportunity WHERE Id = '{AMENDMENT_OPPORTUNITY}'")
    assert opportunity["StageName"] == "Closed Won"  # re-seeding never reopens a signed amendment


async def test_an_amendment_needs_its_deals_account_in_the_org(org: RunningOrg):
    with pytest.raises(SeedError, match="seed its deal first"):
        await seed_amendment(org)


async def test_an_unknown_amendment_is_not_found(amended: RunningOrg):
    async with amended.adapter() as crm:
        with pytest.raises(NotFoundError, match="no such opportunity"):
            await crm.fetch_amendment("006NW0000000099")
        with pytest.raises(NotFoundError, match="not a Salesforce opportunity ID"):
            await crm.fetch_amendment("001NW0000000001")
        with pytest.raises(NotFoundError):
            await crm.record_amendment_outcome("006NW0000000099", outcome(total_contract_value=None), "key")
        with pytest.raises(NotFoundError, match="no such opportunity"):
            await crm.record_amendment_outcome("006NW0000000099", outcome(), "key")


async def test_a_new_business_deal_reads_as_an_amendment_of_nothing(amended: RunningOrg, mapping_rules: MappingRules):
    # The port returns what the CRM holds; build_amendment says what is wrong with it.
    async with amended.adapter() as crm:
        record = await crm.fetch_amendment(reference_deal().opportunity.opportunity_id)

    assert (record.opportunity_type, record.contract_id, record.changes[0].change) == (None, None, None)
    assert [change.product_code for change in record.changes] == [line.product_code for line in reference_deal().lines]


# -- record_amendment_outcome ------------------------------------------------------------------------------------


async def test_the_outcome_is_written_once_however_often_it_is_recorded(amended: RunningOrg):
    key = f"amendment/{AMENDMENT_OPPORTUNITY}/crm"
    async with amended.adapter() as crm:
        await crm.record_amendment_outcome(AMENDMENT_OPPORTUNITY, outcome(), key)
        first = await written_outcome(amended)
        await crm.record_amendment_outcome(AMENDMENT_OPPORTUNITY + "YAA", outcome(), key)
        second = await written_outcome(amended)

    assert (
        first
        == second
        == {
            "Q2C_Status__c": "completed",
            "Q2C_Saga_Id__c": "amendment/006NW0000000002",
            "Q2C_Contract_Id__c": "CTR-006NW0000000001",
            "Q2C_Contract_Version__c": Decimal(2),
            "Q2C_Total_Contract_Value__c": Decimal("164564.52"),
            "Q2C_Invoice_Ids__c": "in_1Amend\nin_2Amend",
            "Q2C_Credit_Note_Ids__c": "cn_1Amend",
            "Q2C_Message__c": None,
        }
    )


async def test_a_later_outcome_clears_what_it_no_longer_holds(amended: RunningOrg):
    async with amended.adapter() as crm:
        await crm.record_amendment_outcome(AMENDMENT_OPPORTUNITY, outcome(), "key-1")
        parked = outcome(
            status="needs_attention",
            contract_version=None,
            total_contract_value=None,
            invoice_ids=(),
            credit_note_ids=(),
            message="x" * 300,
        )
        await crm.record_amendment_outcome(AMENDMENT_OPPORTUNITY, parked, "key-2")

    assert await written_outcome(amended) == {
        "Q2C_Status__c": "needs_attention",
        "Q2C_Saga_Id__c": "amendment/006NW0000000002",
        "Q2C_Contract_Id__c": "CTR-006NW0000000001",
        "Q2C_Contract_Version__c": None,
        "Q2C_Total_Contract_Value__c": None,
        "Q2C_Invoice_Ids__c": None,
        "Q2C_Credit_Note_Ids__c": None,
        "Q2C_Message__c": "x" * 254 + "…",  # cut to the field's 255 characters
    }


async def test_a_contract_value_in_another_currency_is_refused(amended: RunningOrg):
    async with amended.adapter() as crm:
        with pytest.raises(PermanentAdapterError, match="the opportunity's currency is USD"):
            await crm.record_amendment_outcome(
                AMENDMENT_OPPORTUNITY, outcome(total_contract_value=Money.of("100.00", "EUR")), "key"
            )

    assert (await written_outcome(amended))["Q2C_Status__c"] is None


# -- the emulator's datetime fields and outbound message ---------------------------------------------------------


async def test_a_datetime_field_stores_any_offset_in_utc_and_refuses_what_is_not_one(amended: RunningOrg):
    path = f"{API}/sobjects/Opportunity/{AMENDMENT_OPPORTUNITY}"
    async with await amended.rest() as rest:
        shifted = await rest.patch(path, json={"Q2C_Effective_At__c": "2027-07-15T02:00:00+02:00"})
        read = (await rest.get(path)).json()
        refused = await rest.patch(path, json={"Q2C_Effective_At__c": "2027-07-15"})
        system = await rest.patch(path, json={"CreatedDate": "2027-07-15T00:00:00Z"})

    assert shifted.status_code == 204 and read["Q2C_Effective_At__c"] == "2027-07-15T00:00:00.000+0000"
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert system.status_code == 400 and system.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_closing_an_amendment_notifies_its_type(amended: RunningOrg):
    await close_opportunity(amended.url, await amended.token(), AMENDMENT_OPPORTUNITY)
    await close_opportunity(amended.url, await amended.token(), reference_deal().opportunity.opportunity_id)

    async with await amended.rest() as rest:
        messages = (await rest.get("/_sandbox/outbound-messages")).json()["messages"]

    # The listener can tell an amendment from a new deal; a deal without a Type sends none.
    assert [m["sobject"] for m in messages] == [
        {"Id": "006NW0000000002YAA", "AccountId": "001NW0000000001YAA", "StageName": "Closed Won", "Type": "Amendment"},
        {"Id": "006NW0000000001YAA", "AccountId": "001NW0000000001YAA", "StageName": "Closed Won", "Type": None},
    ]
