"""Put the demo's deals into the Salesforce emulator through its own REST API, idempotently.

Every record is upserted by its `Q2C_External_Id__c`: the demo's ID for accounts and opportunities, the username
for users, the product code for products, `<account>-billing-contact` for contacts and `<opportunity>-L<line no>`
for line items. Running the seed again creates nothing and leaves a deal's stage alone.

Record IDs: accounts and opportunities keep the demo's IDs (`006NW0000000001` is `006NW0000000001YAA` in its
18-character form), so a saga's workflow ID `closed-won/006NW0000000001` stays recognisable. A real org never
lets a client choose an ID; the emulator allows it through a seed-only admin route that reserves an ID for the
record later upserted with a given external ID. Everything else gets a generated ID.

Opportunities are created in stage "Negotiation/Review"; `close_opportunity` moves one to "Closed Won", which
fires the Outbound Message that starts q2c's saga.

Amendments (seeded after the deals, since they change the deals' contracts) are opportunities of Type "Amendment"
on the contract's account, naming the contract and version they change; each change is a line item
(`<opportunity>-L<change no>`) whose `Q2C_Contract_Line__c` names the contract line changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from canonical.crm_amendment import CrmAmendment, CrmAmendmentChangeRecord
from canonical.crm_deal import CrmAccountRecord, CrmDeal, CrmQuoteLineRecord
from sandbox.salesforce.wire import dumps

API_VERSION = "61.0"
EXTERNAL_ID = "Q2C_External_Id__c"
OPEN_STAGE = "Negotiation/Review"
CLOSED_WON = "Closed Won"
AMENDMENT_TYPE = "Amendment"


class SeedError(RuntimeError):
    pass


@dataclass
class SeedResult:
    created: int = 0
    updated: int = 0
    ids: dict[str, str] = field(default_factory=dict)  # external ID -> Salesforce ID (18 characters)


async def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    """An access token by the client credentials flow."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )
    if response.status_code != 200:
        raise SeedError(f"token request refused: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


async def seed_salesforce(
    base_url: str,
    client_id: str,
    client_secret: str,
    deals: Iterable[CrmDeal],
    api_version: str = API_VERSION,
    amendments: Iterable[CrmAmendment] = (),
) -> SeedResult:
    """Upsert `deals`, then `amendments` (each on an account a deal put there)."""
    token = await get_token(base_url, client_id, client_secret)
    async with _Seeder(base_url, token, api_version) as seeder:
        for deal in deals:
            await seeder.deal(deal)
        for amendment in amendments:
            await seeder.amendment(amendment)
        return seeder.result


async def close_opportunity(base_url: str, token: str, opportunity_id: str, api_version: str = API_VERSION) -> None:
    """Set the opportunity's stage to Closed Won, as a seller would; the org then sends its Outbound Message."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=_headers(token)) as client:
        response = await client.patch(
            f"/services/data/v{api_version}/sobjects/Opportunity/{opportunity_id}",
            content=dumps({"StageName": CLOSED_WON}),
        )
    if response.status_code != 204:
        raise SeedError(f"closing {opportunity_id} failed: {response.status_code} {response.text}")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class _Seeder:
    def __init__(self, base_url: str, token: str, api_version: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=10, headers=_headers(token))
        self._sobjects = f"/services/data/v{api_version}/sobjects"
        self.result = SeedResult()

    async def __aenter__(self) -> _Seeder:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def deal(self, deal: CrmDeal) -> None:
        opportunity, account = deal.opportunity, deal.account
        account_id = await self._account(account)
        owner_id = await self._user(opportunity.owner) if opportunity.owner else None
        await self._reserve("Opportunity", opportunity.opportunity_id)
        fields: dict[str, Any] = {
            "Name": opportunity.name or opportunity.opportunity_id,
            "AccountId": account_id,
            "OwnerId": owner_id,
            "CloseDate": opportunity.closed_won_on or opportunity.contract_start,
            "CurrencyIsoCode": opportunity.currency,
            "Contract_Start__c": opportunity.contract_start,
            "Contract_End__c": opportunity.contract_end,
        }
        if not await self._exists("Opportunity", opportunity.opportunity_id):
            fields["StageName"] = OPEN_STAGE  # an existing deal keeps its stage: re-seeding never reopens it
        opportunity_sf_id = await self._upsert("Opportunity", opportunity.opportunity_id, fields)
        for line in deal.lines:
            await self._line(opportunity.opportunity_id, opportunity_sf_id, line)

    async def amendment(self, amendment: CrmAmendment) -> None:
        account_id = await self._existing_id("Account", amendment.account_id) if amendment.account_id else None
        owner_id = await self._user(amendment.owner) if amendment.owner else None
        await self._reserve("Opportunity", amendment.opportunity_id)
        effective = amendment.effective
        fields: dict[str, Any] = {
            "Name": amendment.name or amendment.opportunity_id,
            "Type": amendment.opportunity_type or AMENDMENT_TYPE,
            "AccountId": account_id,
            "OwnerId": owner_id,
            "CloseDate": effective.date() if effective else None,
            "CurrencyIsoCode": amendment.currency,
            "Q2C_Amended_Contract_Id__c": amendment.contract_id,
            "Q2C_Amended_Contract_Version__c": amendment.contract_version,
            "Q2C_Effective_At__c": effective,
            "Q2C_Credit_Behavior__c": amendment.credit_behavior,
        }
        facts = {
            "Q2C_Added_Goods_Distinct__c": amendment.added_goods_distinct,
            "Q2C_Priced_At_SSP__c": amendment.priced_at_ssp,
            "Q2C_Remaining_Goods_Distinct__c": amendment.remaining_goods_distinct,
        }
        fields |= {name: value for name, value in facts.items() if value is not None}  # a checkbox is never null
        if not await self._exists("Opportunity", amendment.opportunity_id):
            fields["StageName"] = OPEN_STAGE
        opportunity_sf_id = await self._upsert("Opportunity", amendment.opportunity_id, fields)
        for change in amendment.changes:
            await self._change(amendment.opportunity_id, opportunity_sf_id, change)

    async def _change(self, opportunity_id: str, opportunity_sf_id: str, change: CrmAmendmentChangeRecord) -> None:
        fields: dict[str, Any] = {
            "Line_No__c": change.change_no,
            "Q2C_Change__c": change.change,
            "Q2C_Contract_Line__c": change.line_no,
            "Quantity": change.quantity,
            "UnitPrice": change.net_unit_price,
            "Q2C_Term_End__c": change.term_end,
            "Q2C_Cancellation__c": change.cancellation,
        }
        external_id = f"{opportunity_id}-L{change.change_no}"
        product_id = await self._product(change.product_code) if change.product_code else None
        if not await self._exists("OpportunityLineItem", external_id):
            fields |= {"OpportunityId": opportunity_sf_id, "Product2Id": product_id}
        await self._upsert("OpportunityLineItem", external_id, fields)

    async def _existing_id(self, sobject: str, external_id: str) -> str:
        response = await self._client.get(f"{self._sobjects}/{sobject}/{EXTERNAL_ID}/{quote(external_id, safe='')}")
        if response.status_code != 200:
            raise SeedError(f"{sobject} {external_id} is not in the org: seed its deal first ({response.status_code})")
        return str(response.json()["Id"])

    async def _account(self, account: CrmAccountRecord) -> str:
        await self._reserve("Account", account.account_id)
        fields = {
            "Name": account.name,
            "BillingStreet": account.billing_street,
            "BillingCity": account.billing_city,
            "BillingPostalCode": account.billing_postal_code,
            "BillingCountry": account.billing_country,
            "CurrencyIsoCode": account.currency,
            "Legal_Entity__c": account.legal_entity,
            "Tax_Id__c": account.tax_id,
            "Payment_Terms_Days__c": account.payment_terms_days,
        }
        account_id = await self._upsert("Account", account.account_id, fields)
        contact_id = None
        if account.billing_contact_name or account.billing_contact_email:
            first, _, last = (account.billing_contact_name or "").strip().rpartition(" ")
            contact = {
                "AccountId": account_id,
                "FirstName": first or None,
                "LastName": last or (account.billing_contact_email or "").partition("@")[0],
                "Email": account.billing_contact_email,
            }
            contact_id = await self._upsert("Contact", f"{account.account_id}-billing-contact", contact)
        await self._upsert("Account", account.account_id, {"Billing_Contact__c": contact_id})
        return account_id

    async def _user(self, username: str) -> str:
        email = username if "@" in username else f"{username}@q2c-demo.example"
        return await self._upsert("User", username, {"Username": username, "LastName": username, "Email": email})

    async def _line(self, opportunity_id: str, opportunity_sf_id: str, line: CrmQuoteLineRecord) -> None:
        fields: dict[str, Any] = {
            "Line_No__c": line.line_no,
            "Quantity": line.quantity,
            "ListPrice": line.list_unit_price,
            "UnitPrice": line.net_unit_price,
            "Discount": line.discount_percent,
            "TotalPrice": line.amount,
            "ServiceDate": line.service_start,
            "End_Date__c": line.service_end,
            "Billing_Frequency__c": line.billing_frequency,
            "Usage_Unit__c": line.usage_unit,
            "Included_Per_Month__c": line.included_per_month,
            "Overage_Unit_Price__c": line.unit_price_over_included,
            "Delivered_On__c": line.delivered_on,
        }
        external_id = f"{opportunity_id}-L{line.line_no}"
        product_id = await self._product(line.product_code) if line.product_code else None
        if not await self._exists("OpportunityLineItem", external_id):  # both are set once, on insert
            fields |= {"OpportunityId": opportunity_sf_id, "Product2Id": product_id}
        await self._upsert("OpportunityLineItem", external_id, fields)

    async def _product(self, code: str) -> str:
        return await self._upsert("Product2", code, {"Name": code, "ProductCode": code, "IsActive": True})

    async def _reserve(self, sobject: str, demo_id: str) -> None:
        response = await self._client.put(f"/_sandbox/id-reservations/{sobject}/{demo_id}", json={"id": demo_id})
        if response.status_code == 400:
            return  # not an ID of that object (a deal from elsewhere): the record gets a generated ID
        if response.status_code != 200:
            raise SeedError(f"could not keep the demo's ID {demo_id} for {sobject}: {response.text}")

    async def _exists(self, sobject: str, external_id: str) -> bool:
        response = await self._client.get(f"{self._sobjects}/{sobject}/{EXTERNAL_ID}/{quote(external_id, safe='')}")
        if response.status_code not in {200, 404}:
            raise SeedError(f"reading {sobject} {external_id} failed: {response.status_code} {response.text}")
        return response.status_code == 200

    async def _upsert(self, sobject: str, external_id: str, fields: Mapping[str, Any]) -> str:
        response = await self._client.patch(
            f"{self._sobjects}/{sobject}/{EXTERNAL_ID}/{quote(external_id, safe='')}", content=dumps(dict(fields))
        )
        if response.status_code not in {200, 201}:
            raise SeedError(f"upserting {sobject} {external_id} failed: {response.status_code} {response.text}")
        if response.status_code == 201:
            self.result.created += 1
        else:
            self.result.updated += 1
        record_id = str(response.json()["id"])
        self.result.ids[external_id] = record_id
        return record_id
