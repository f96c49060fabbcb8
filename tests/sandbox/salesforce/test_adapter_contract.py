"""Contract tests: the Salesforce adapter against the running emulator, over real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import jwt
import pytest

from adapters.errors import NotFoundError, PermanentAdapterError, RateLimitedError, TransientAdapterError
from adapters.memory.reference_deals import demo_deals, reference_deal
from adapters.salesforce.errors import CONCURRENCY_RETRY_AFTER, DAILY_LIMIT_RETRY_AFTER
from canonical.contract_mapping import build_contract
from canonical.mapping_rules import MappingRules
from canonical.references import SystemReferences
from canonical.saga import SagaOutcome, SagaStatus
from sandbox.faults import FaultRule
from sandbox.salesforce.seed import close_opportunity
from sandbox.store import DocumentStore
from tests.sandbox.salesforce.conftest import (
    API,
    INTEGRATION_USER,
    KeyPair,
    RunningOrg,
    emulator_settings,
    make_key_pair,
    running_org,
)

NORTHWIND = "006NW0000000001"


def _outcome(status: SagaStatus = SagaStatus.COMPLETED, message: str = "") -> SagaOutcome:
    return SagaOutcome(
        workflow_id=f"closed-won/{NORTHWIND}",
        status=status,
        contract_id=f"CTR-{NORTHWIND}",
        message=message,
        references=SystemReferences(
            crm_opportunity_id=NORTHWIND,
            crm_account_id="001NW0000000001",
            erp_customer_id="ERP-CUS-00001",
            billing_customer_id="cus_123",
            subscription_id="sub_123",
            revenue_contract_id="RC-00001",
        ),
    )


async def _opportunity(org: RunningOrg, opportunity_id: str = NORTHWIND) -> dict[str, object]:
    async with await org.rest() as rest:
        response = await rest.get(f"{API}/sobjects/Opportunity/{opportunity_id}")
    assert response.status_code == 200
    return dict(response.json())


async def _count(org: RunningOrg, sobject: str) -> int:
    async with await org.rest() as rest:
        response = await rest.get(f"{API}/query", params={"q": f"SELECT Id FROM {sobject}"})
    return int(response.json()["totalSize"])


async def test_fetch_deal_reads_every_demo_deal_as_the_crm_holds_it(seeded: RunningOrg, mapping_rules: MappingRules):
    token = await seeded.token()
    async with seeded.adapter() as crm:
        for deal in demo_deals():
            await close_opportunity(seeded.url, token, deal.opportunity.opportunity_id)
            fetched = await crm.fetch_deal(deal.opportunity.opportunity_id)

            assert fetched == deal
            if deal.lines and deal.account.tax_id:
                assert build_contract(fetched, mapping_rules) == build_contract(deal, mapping_rules)


async def test_amounts_arrive_as_exact_decimals_across_query_batches(seeded: RunningOrg):
    async with seeded.adapter() as crm:
        deal = await crm.fetch_deal(NORTHWIND + "YAA")  # the 18-character form names the same deal

    assert deal.opportunity.opportunity_id == NORTHWIND
    assert [line.line_no for line in deal.lines] == [1, 2, 3]  # three lines, batches of two: nextRecordsUrl followed
    overage = deal.lines[2].unit_price_over_included
    assert isinstance(overage, Decimal) and overage == Decimal("0.002")
    assert deal.lines[1].amount == Decimal("15000.00") and isinstance(deal.lines[0].net_unit_price, Decimal)


async def test_an_unknown_opportunity_is_not_found(seeded: RunningOrg):
    async with seeded.adapter() as crm:
        with pytest.raises(NotFoundError):
            await crm.fetch_deal("006NW0000000099")
        with pytest.raises(NotFoundError):
            await crm.fetch_deal("not-an-id'; DROP")
        with pytest.raises(NotFoundError, match="NOT_FOUND"):
            await crm.record_saga_outcome("006NW0000000099", _outcome(), "key-1")


async def test_the_saga_outcome_is_written_once_however_often_it_is_recorded(seeded: RunningOrg):
    opportunities = await _count(seeded, "Opportunity")
    long_message = "x" * 400
    async with seeded.adapter() as crm:
        await crm.record_saga_outcome(NORTHWIND, _outcome(message=long_message), "closed-won/006NW0000000001/crm")
        first = await _opportunity(seeded)
        await crm.record_saga_outcome(NORTHWIND, _outcome(message=long_message), "closed-won/006NW0000000001/crm")
        second = await _opportunity(seeded)

    q2c_fields = {k: v for k, v in first.items() if str(k).startswith("Q2C_") and k != "Q2C_External_Id__c"}
    q2c_fields = {k: v for k, v in q2c_fields.items() if v not in (None, False)}  # amendment fields stay unset
    assert q2c_fields == {
        "Q2C_Status__c": "completed",
        "Q2C_Saga_Id__c": "closed-won/006NW0000000001",
        "Q2C_Contract_Id__c": "CTR-006NW0000000001",
        "Q2C_ERP_Customer_Id__c": "ERP-CUS-00001",
        "Q2C_Billing_Customer_Id__c": "cus_123",
        "Q2C_Subscription_Id__c": "sub_123",
        "Q2C_Revenue_Contract_Id__c": "RC-00001",
        "Q2C_Message__c": "x" * 254 + "…",  # cut to the field's 255 characters
    }
    assert {k: second[k] for k in q2c_fields} == q2c_fields
    assert await _count(seeded, "Opportunity") == opportunities


async def test_an_expired_session_is_renewed_once_and_the_call_succeeds(seeded: RunningOrg):
    async with seeded.adapter() as crm:
        await crm.fetch_deal(NORTHWIND)
        async with httpx.AsyncClient(base_url=seeded.url) as admin:
            expired = (await admin.delete("/_sandbox/sessions")).json()["expired"]
        assert expired >= 1

        deal = await crm.fetch_deal(NORTHWIND)

    assert deal.opportunity.opportunity_id == NORTHWIND


async def test_a_session_refused_after_renewal_is_permanent(seeded: RunningOrg):
    seeded.fault(FaultRule(kind="error", rate=1, path=r"/services/data/.*", status=401))
    async with seeded.adapter() as crm:
        with pytest.raises(PermanentAdapterError, match="refused q2c's session"):
            await crm.fetch_deal(NORTHWIND)
    assert seeded.faults.injected["error"] == 2  # the first call and the one retry after a new token


async def test_wrong_client_credentials_are_a_permanent_failure(seeded: RunningOrg):
    async with seeded.adapter(client_secret="wrong") as crm:
        with pytest.raises(PermanentAdapterError, match="invalid_client") as refused:
            await crm.fetch_deal(NORTHWIND)
    assert not isinstance(refused.value, NotFoundError)


async def test_the_jwt_bearer_flow_authenticates_the_integration_user(seeded: RunningOrg, key_pair: KeyPair):
    async with seeded.adapter(
        client_secret=None, username=INTEGRATION_USER, private_key_pem=key_pair.private_key_pem
    ) as crm:
        deal = await crm.fetch_deal(NORTHWIND)
    assert deal.opportunity.owner == "sam.seller"


@pytest.mark.parametrize(
    ("claims", "signer", "description"),
    [
        ({"aud": "https://evil.example"}, "own", "audience is invalid"),
        ({"exp": int(time.time()) - 600}, "own", "expired authorization code"),
        ({"exp": int(time.time()) + 3600}, "own", "invalid assertion"),  # not "within 3 minutes"
        ({}, "other", "invalid assertion"),  # signed by a key the connected app does not hold
        ({"sub": "nobody@q2c.example"}, "own", "user hasn't approved this consumer"),
    ],
)
async def test_the_token_endpoint_checks_jwt_assertions(
    org: RunningOrg, key_pair: KeyPair, claims: dict[str, object], signer: str, description: str
):
    key = key_pair.private_key_pem if signer == "own" else make_key_pair().private_key_pem
    payload = {
        "iss": org.settings.client_id,
        "sub": INTEGRATION_USER,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
    } | claims
    assertion = jwt.encode(payload, key, algorithm="RS256")
    async with httpx.AsyncClient(base_url=org.url) as client:
        response = await client.post(
            "/services/oauth2/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": description}


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(kind="error", rate=1, path=r"/services/data/.*", status=503),
        FaultRule(kind="error", rate=1, path=r"/services/data/.*", status=500),
        FaultRule(kind="drop", rate=1, path=r"/services/data/.*"),
        FaultRule(kind="slow", rate=1, path=r"/services/data/.*", delay_seconds=1.0),
    ],
    ids=["503", "500", "dropped-connection", "timeout"],
)
async def test_server_errors_and_broken_connections_are_transient(seeded: RunningOrg, rule: FaultRule):
    seeded.fault(rule)
    async with seeded.adapter(timeout_seconds=0.3) as crm:
        with pytest.raises(TransientAdapterError):
            await crm.fetch_deal(NORTHWIND)
        with pytest.raises(TransientAdapterError):
            await crm.record_saga_outcome(NORTHWIND, _outcome(), "key")


async def test_a_concurrency_limit_is_rate_limited_with_the_documented_default_delay(seeded: RunningOrg):
    seeded.fault(FaultRule(kind="rate_limit", rate=1, path=r"/services/data/.*"))
    async with seeded.adapter() as crm:
        with pytest.raises(RateLimitedError) as limited:
            await crm.fetch_deal(NORTHWIND)
    assert limited.value.retry_after == CONCURRENCY_RETRY_AFTER
    assert "REQUEST_LIMIT_EXCEEDED" in limited.value.message


async def test_the_daily_api_limit_is_rate_limited_for_longer(seeded: RunningOrg):
    async with seeded.adapter() as crm:
        await crm.fetch_deal(NORTHWIND)
        usage = crm.last_api_usage
        assert usage is not None and usage.used > 0 and usage.limit == seeded.settings.daily_api_limit
        async with httpx.AsyncClient(base_url=seeded.url) as admin:
            await admin.put("/_sandbox/api-usage", json={"used": usage.limit})

        with pytest.raises(RateLimitedError) as limited:
            await crm.fetch_deal(NORTHWIND)
    assert limited.value.retry_after == DAILY_LIMIT_RETRY_AFTER
    assert limited.value.retry_after > timedelta(minutes=1)


async def test_a_field_the_org_lacks_is_a_permanent_error_naming_it(tmp_path: Path):
    settings = emulator_settings(absent_fields={"Opportunity": ("Q2C_Revenue_Contract_Id__c",)})
    async with running_org(tmp_path / "org.sqlite", settings) as org:
        await org.seed()
        async with org.adapter() as crm:
            with pytest.raises(PermanentAdapterError, match="Q2C_Revenue_Contract_Id__c") as refused:
                await crm.record_saga_outcome(NORTHWIND, _outcome(), "key")
    assert not isinstance(refused.value, NotFoundError)
    assert "INVALID_FIELD" in refused.value.message


async def test_through_random_faults_a_retry_loop_gets_through_without_duplicates(seeded: RunningOrg):
    opportunities = await _count(seeded, "Opportunity")
    seeded.fault(
        FaultRule(kind="error", rate=0.4, path=r"/services/data/.*", status=503),
        FaultRule(kind="drop", rate=0.2, path=r"/services/data/.*"),
        seed=7,
    )
    failures = 0
    async with seeded.adapter() as crm:
        while True:
            try:
                deal = await crm.fetch_deal(NORTHWIND)
                await crm.record_saga_outcome(NORTHWIND, _outcome(), "closed-won/006NW0000000001/crm")
                break
            except TransientAdapterError:
                failures += 1
                assert failures < 30, "no call got through 30 attempts"
    injected = dict(seeded.faults.injected)
    seeded.fault()

    assert failures > 0 and sum(injected.values()) >= failures
    assert deal.opportunity.opportunity_id == NORTHWIND
    assert (await _opportunity(seeded))["Q2C_Status__c"] == "completed"
    assert await _count(seeded, "Opportunity") == opportunities


async def test_records_survive_a_restart_on_the_same_file(tmp_path: Path, key_pair: KeyPair):
    path = tmp_path / "persistent.sqlite"
    async with running_org(path, emulator_settings(key_pair)) as first:
        await first.seed()
        await close_opportunity(first.url, await first.token(), NORTHWIND)
        async with first.adapter() as crm:
            await crm.record_saga_outcome(NORTHWIND, _outcome(), "key")
        async with httpx.AsyncClient(base_url=first.url) as admin:
            used = (await admin.get("/_sandbox/api-usage")).json()["used"]

    async with running_org(path, emulator_settings(key_pair)) as second:
        async with second.adapter() as crm:
            deal = await crm.fetch_deal(NORTHWIND)
        assert deal == reference_deal()
        assert (await _opportunity(second))["Q2C_Subscription_Id__c"] == "sub_123"
        async with httpx.AsyncClient(base_url=second.url) as admin:
            assert (await admin.get("/_sandbox/api-usage")).json()["used"] > used


async def test_the_emulator_keeps_its_records_in_sqlite_and_postgresql(document_store: DocumentStore, tmp_path: Path):
    async with running_org(tmp_path / "unused", emulator_settings(), store=document_store) as org:
        await org.seed()
        await close_opportunity(org.url, await org.token(), NORTHWIND)
        async with org.adapter() as crm:
            assert await crm.fetch_deal(NORTHWIND) == reference_deal()
