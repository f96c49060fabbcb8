"""The emulator's sObject REST API: record shapes, upsert by external ID, validation errors, auth and limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from sandbox.salesforce.wire import dumps, loads
from tests.sandbox.salesforce.conftest import API, KeyPair, RunningOrg, emulator_settings, running_org


@pytest.fixture(scope="module")
async def shared_org(tmp_path_factory: pytest.TempPathFactory, key_pair: KeyPair) -> AsyncIterator[RunningOrg]:
    """One org for this module's tests; each test names its own records."""
    path = tmp_path_factory.mktemp("rest") / "salesforce.sqlite"
    async with running_org(path, emulator_settings(key_pair)) as running:
        yield running


@pytest.fixture
async def rest(shared_org: RunningOrg) -> AsyncIterator[httpx.AsyncClient]:
    async with await shared_org.rest() as client:
        yield client


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_record_is_created_read_updated_and_deleted(rest: httpx.AsyncClient):
    created = await rest.post(f"{API}/sobjects/Account", content=dumps({"Name": "Initech", "BillingCountry": "US"}))
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("001")
    account_id = body["id"]

    read = (await rest.get(f"{API}/sobjects/Account/{account_id[:15]}")).json()
    assert read["attributes"] == {"type": "Account", "url": f"/services/data/v61.0/sobjects/Account/{account_id}"}
    assert read["Id"] == account_id and read["Name"] == "Initech" and read["Tax_Id__c"] is None
    assert read["OwnerId"].startswith("005") and read["CreatedDate"].endswith("+0000")

    updated = await rest.patch(f"{API}/sobjects/Account/{account_id.lower()}", content=dumps({"Tax_Id__c": "US-1"}))
    assert updated.status_code == 204 and updated.content == b""
    assert (await rest.get(f"{API}/sobjects/Account/{account_id}")).json()["Tax_Id__c"] == "US-1"

    assert (await rest.delete(f"{API}/sobjects/Account/{account_id}")).status_code == 204
    gone = await rest.get(f"{API}/sobjects/Account/{account_id}")
    assert gone.status_code == 404 and gone.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]
    again = await rest.patch(f"{API}/sobjects/Account/{account_id}", content=dumps({"Name": "x"}))
    assert again.status_code == 404 and again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


async def test_upsert_creates_then_updates_and_refuses_an_ambiguous_external_id(rest: httpx.AsyncClient):
    external_id = _unique("ext")
    url = f"{API}/sobjects/Product2/Q2C_External_Id__c/{external_id}"

    first = await rest.patch(url, content=dumps({"Name": "Widget", "ProductCode": "W-1"}))
    second = await rest.patch(url, content=dumps({"IsActive": True}))
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (second.status_code, second.json()) == (
        200,
        {"id": first.json()["id"], "success": True, "errors": [], "created": False},
    )
    assert (await rest.get(url)).json()["IsActive"] is True

    duplicate = await rest.post(
        f"{API}/sobjects/Product2", content=dumps({"Name": "Twin", "Q2C_External_Id__c": external_id})
    )
    ambiguous = await rest.patch(url, content=dumps({"Name": "Which one?"}))
    assert ambiguous.status_code == 300
    assert sorted(ambiguous.json()) == sorted(
        f"/services/data/v61.0/sobjects/Product2/{record_id}"
        for record_id in (first.json()["id"], duplicate.json()["id"])
    )

    not_external = await rest.patch(f"{API}/sobjects/Product2/Name/Widget", content=dumps({"IsActive": False}))
    assert not_external.status_code == 404 and not_external.json()[0]["errorCode"] == "NOT_FOUND"


async def test_numbers_are_stored_and_returned_exactly(rest: httpx.AsyncClient):
    opportunity = await rest.post(
        f"{API}/sobjects/Opportunity",
        content=dumps({"Name": _unique("deal"), "StageName": "Prospecting", "CloseDate": "2027-03-31"}),
    )
    line = await rest.post(
        f"{API}/sobjects/OpportunityLineItem",
        content=b'{"OpportunityId": "%s", "UnitPrice": 1234567890123456.78, "Overage_Unit_Price__c": 0.000001, '
        b'"Quantity": 3, "Discount": 12.5}' % opportunity.json()["id"].encode(),
    )
    assert line.status_code == 201, line.text

    raw = (await rest.get(f"{API}/sobjects/OpportunityLineItem/{line.json()['id']}")).content
    assert b'"UnitPrice":1234567890123456.78' in raw and b'"Overage_Unit_Price__c":0.000001' in raw
    assert b'"Quantity":3.0' in raw  # printed as Salesforce prints a double
    record = loads(raw)
    assert record["UnitPrice"] == Decimal("1234567890123456.78") and record["Discount"] == Decimal("12.5")


@pytest.mark.parametrize(
    ("sobject", "body", "status", "code", "fields"),
    [
        ("Account", {"Name": "A", "Nmae": "typo"}, 400, "INVALID_FIELD", ["Nmae"]),
        ("Account", {"BillingCity": "Paris"}, 400, "REQUIRED_FIELD_MISSING", ["Name"]),
        ("Account", {"Name": "A" * 256}, 400, "STRING_TOO_LONG", ["Name"]),
        ("Account", {"Name": "A", "Id": "001NW0000000001"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Id"]),
        (
            "Account",
            {"Name": "A", "Payment_Terms_Days__c": 1000},
            400,
            "NUMBER_OUTSIDE_VALID_RANGE",
            ["Payment_Terms_Days__c"],
        ),
        (
            "Account",
            {"Name": "A", "Billing_Contact__c": "003NW0000000999"},
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            ["Billing_Contact__c"],
        ),
        (
            "Account",
            {"Name": "A", "Billing_Contact__c": "001NW0000000001"},
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            ["Billing_Contact__c"],
        ),
        ("Account", {"Name": "A", "Billing_Contact__c": "nonsense"}, 400, "MALFORMED_ID", ["Billing_Contact__c"]),
        ("Contact", {"LastName": "B", "Email": "not-an-address"}, 400, "INVALID_EMAIL_ADDRESS", ["Email"]),
        (
            "Opportunity",
            {"Name": "C", "StageName": "Prospecting", "CloseDate": "31/03/2027"},
            400,
            "JSON_PARSER_ERROR",
            [],
        ),
        (
            "Opportunity",
            {"Name": "C", "StageName": "Prospecting", "CloseDate": "2027-03-31", "IsWon": True},
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsWon"],
        ),
        ("Gadget__c", {"Name": "D"}, 404, "NOT_FOUND", None),
    ],
)
async def test_invalid_records_get_salesforce_error_arrays(
    rest: httpx.AsyncClient, sobject: str, body: dict[str, object], status: int, code: str, fields: list[str] | None
):
    response = await rest.post(f"{API}/sobjects/{sobject}", content=dumps(body))

    assert response.status_code == status
    [error] = response.json()
    assert error["errorCode"] == code and error["message"]
    assert error.get("fields") == fields


async def test_rest_calls_need_a_live_session_and_report_api_usage(shared_org: RunningOrg):
    async with httpx.AsyncClient(base_url=shared_org.url) as anonymous:
        missing = await anonymous.get(f"{API}/sobjects/Account/001NW0000000001")
        bogus = await anonymous.get(
            f"{API}/query", params={"q": "SELECT Id FROM Account"}, headers={"Authorization": "Bearer 00D!nope"}
        )
    async with await shared_org.rest() as rest:
        fine = await rest.get(f"{API}/limits")
        old_version = await rest.get("/services/data/v19.0/limits")
        future_version = await rest.get("/services/data/v99.0/limits")
        nowhere = await rest.get(f"{API}/tooling/sobjects")

    for refused in (missing, bogus):
        assert refused.status_code == 401
        assert refused.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        assert refused.headers["sforce-limit-info"].startswith("api-usage=")
    assert fine.status_code == 200
    used, limit = fine.headers["sforce-limit-info"].removeprefix("api-usage=").split("/")
    assert int(limit) == 15000 and fine.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - int(used)}
    assert old_version.status_code == future_version.status_code == nowhere.status_code == 404


async def test_the_token_endpoint_takes_client_credentials_in_the_body_or_basic_auth(shared_org: RunningOrg):
    settings = shared_org.settings
    async with httpx.AsyncClient(base_url=shared_org.url) as client:
        body = await client.post(
            "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            },
        )
        basic = await client.post(
            "/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(settings.client_id, settings.client_secret),
        )
        wrong = await client.post(
            "/services/oauth2/token", data={"grant_type": "client_credentials"}, auth=(settings.client_id, "nope")
        )
        unsupported = await client.post("/services/oauth2/token", data={"grant_type": "password"})
        revoked = await client.post("/services/oauth2/revoke", data={"token": basic.json()["access_token"]})
        after_revoke = await client.get(
            f"{API}/limits", headers={"Authorization": f"Bearer {basic.json()['access_token']}"}
        )

    for token in (body.json(), basic.json()):
        assert token["token_type"] == "Bearer" and token["instance_url"] == shared_org.url
        assert token["access_token"].startswith("00DNW0000000001!") and token["scope"] == "api"
        assert token["id"].startswith(f"{shared_org.url}/id/00DNW0000000001") and token["issued_at"].isdigit()
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_client", "error_description": "invalid client credentials"},
    )
    assert unsupported.json()["error"] == "unsupported_grant_type"
    assert revoked.status_code == 200 and after_revoke.status_code == 401


async def test_past_the_daily_limit_calls_are_refused_with_request_limit_exceeded(tmp_path: Path):
    async with running_org(tmp_path / "limited.sqlite", emulator_settings(daily_api_limit=3)) as org:
        rest = await org.rest()
        async with rest:
            statuses = [(await rest.get(f"{API}/limits")).status_code for _ in range(4)]
            refused = await rest.get(f"{API}/limits")

    assert statuses == [200, 200, 200, 403]
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert refused.headers["sforce-limit-info"] == "api-usage=3/3"


async def test_numbers_beyond_a_fields_precision_are_refused(rest: httpx.AsyncClient):
    for number in (b"1e400", b"10000000000000000000.5"):
        response = await rest.post(
            f"{API}/sobjects/Product2", content=b'{"Name": "N", "Q2C_External_Id__c": "x", "IsActive": %s}' % number
        )
        assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
        response = await rest.post(
            f"{API}/sobjects/Account", content=b'{"Name": "N", "Payment_Terms_Days__c": %s}' % number
        )
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
