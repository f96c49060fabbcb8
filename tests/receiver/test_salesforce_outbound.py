"""Salesforce Outbound Messages start closed-won sagas exactly once, over real HTTP and a real Temporal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from adapters.memory.reference_deals import reference_deal
from receiver.app import ReceiverSettings, create_receiver_app
from sandbox.servers import serve_apps
from tests.conftest import SagaHarness
from workers.dev_server import free_port
from workflows.closed_won import workflow_id_for

ORGANIZATION = "00DNW0000000001"


def outbound_message(opportunity_id: str, stage: str = "Closed Won", organization: str = ORGANIZATION) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{organization}</OrganizationId>
   <ActionId>04kNW0000000001</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/61.0</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/61.0</PartnerUrl>
   <Notification>
    <Id>04lNW0000000001</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{opportunity_id}</sf:Id>
     <sf:StageName>{stage}</sf:StageName>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


@pytest.fixture
async def receiver(saga: SagaHarness) -> AsyncIterator[httpx.AsyncClient]:
    async def temporal() -> Client:
        return saga.client

    app = create_receiver_app(
        temporal,
        ReceiverSettings(salesforce_organization_id=ORGANIZATION, task_queue=saga.task_queue),
        lambda: saga.policy,
    )
    async with (
        serve_apps({"receiver": (app, free_port())}) as urls,
        httpx.AsyncClient(base_url=urls["receiver"]) as http,
    ):
        yield http


async def test_a_closed_won_message_starts_one_saga_however_often_it_is_delivered(
    saga: SagaHarness, receiver: httpx.AsyncClient
) -> None:
    opportunity = saga.seed(reference_deal(), opportunity_id=f"006{uuid.uuid4().hex[:12]}")  # 15 characters
    # Salesforce sends the 18-character form; the saga is keyed on the 15-character one.
    message = outbound_message(opportunity + "AAA")
    answers = [await receiver.post("/salesforce/outbound-messages", content=message) for _ in range(3)]

    assert all(a.status_code == 200 and "<Ack>true</Ack>" in a.text for a in answers)
    result = await saga.client.get_workflow_handle(workflow_id_for(opportunity)).result()
    assert result["status"] == "completed"
    assert len(saga.systems.billing.subscriptions) == 1
    executions = [e async for e in saga.client.list_workflows(f"WorkflowId = '{workflow_id_for(opportunity)}'")]
    assert len(executions) == 1


async def test_a_stage_other_than_closed_won_is_acknowledged_and_starts_nothing(
    saga: SagaHarness, receiver: httpx.AsyncClient
) -> None:
    opportunity = saga.seed(reference_deal())

    answer = await receiver.post(
        "/salesforce/outbound-messages", content=outbound_message(opportunity, stage="Negotiation/Review")
    )

    assert answer.status_code == 200
    assert saga.systems.faults.calls["crm.fetch_deal"] == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (outbound_message("006X", organization="00DSOMEONEELSE"), 403),
        (b"<not-soap", 400),
        (b"<a/>", 400),
        (b"x" * 1_000_001, 400),
    ],
    ids=["foreign organisation", "not xml", "no notifications", "oversized"],
)
async def test_forged_or_malformed_messages_are_refused_and_start_nothing(
    saga: SagaHarness, receiver: httpx.AsyncClient, body: bytes, status: int
) -> None:
    answer = await receiver.post("/salesforce/outbound-messages", content=body)

    assert answer.status_code == status
    assert saga.systems.faults.calls["crm.fetch_deal"] == 0


async def test_a_temporal_outage_answers_503_so_salesforce_retries(saga: SagaHarness) -> None:
    async def unreachable() -> Client:
        raise RuntimeError("cannot reach Temporal at 127.0.0.1:1")

    app = create_receiver_app(
        unreachable, ReceiverSettings(salesforce_organization_id=ORGANIZATION), lambda: saga.policy
    )
    async with (
        serve_apps({"receiver": (app, free_port())}) as urls,
        httpx.AsyncClient(base_url=urls["receiver"]) as http,
    ):
        answer = await http.post("/salesforce/outbound-messages", content=outbound_message("006NW0000000001"))

    assert answer.status_code == 503
