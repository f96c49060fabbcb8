"""Outbound Messages: closing a deal makes the org POST a SOAP notification to a real listener over HTTP, again
until the listener acknowledges it, possibly twice or out of order: listeners deduplicate on the notification Id.
"""

from __future__ import annotations

import asyncio
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from sandbox.faults import FaultRule
from sandbox.salesforce.seed import close_opportunity
from sandbox.servers import serve_apps
from tests.sandbox.salesforce.conftest import API, KeyPair, RunningOrg, emulator_settings, running_org
from workers.dev_server import free_port

NS = {
    "soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
    "out": "http://soap.sforce.com/2005/09/outbound",
    "sf": "urn:sobject.enterprise.soap.sforce.com",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)


@dataclass
class Notification:
    notification_id: str
    fields: dict[str, str]


@dataclass
class Listener:
    """A tiny SOAP listener: answers 500 while `failing`, else acknowledges; keeps every POST it got."""

    failing: int = 0
    received: list[tuple[int, ElementTree.Element]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/outbound")
        async def receive(request: Request) -> Response:
            envelope = ElementTree.fromstring(await request.body())
            status = 500 if self.failing > 0 else 200
            self.failing = max(self.failing - 1, 0)
            self.received.append((status, envelope))
            return Response(ACK, media_type="text/xml") if status == 200 else Response("busy", status_code=500)

        return app

    def notifications(self, status: int | None = 200) -> list[Notification]:
        found = []
        for answered, envelope in self.received:
            if status is not None and answered != status:
                continue
            for item in envelope.iterfind("soapenv:Body/out:notifications/out:Notification", NS):
                sobject = item.find("out:sObject", NS)
                assert sobject is not None
                fields = {child.tag.rpartition("}")[2]: child.text or "" for child in sobject}
                found.append(Notification(item.findtext("out:Id", namespaces=NS) or "", fields))
        return found


async def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@dataclass
class OutboundSetup:
    org: RunningOrg
    listener: Listener
    token: str

    async def close(self, opportunity_id: str) -> None:
        await close_opportunity(self.org.url, self.token, opportunity_id)

    async def messages(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.org.url) as admin:
            return list((await admin.get("/_sandbox/outbound-messages")).json()["messages"])


async def _outbound(
    tmp_path: Path, key_pair: KeyPair, seeded_file: Path, **settings: Any
) -> AsyncIterator[OutboundSetup]:
    listener = Listener()
    port = free_port()
    path = tmp_path / "salesforce.sqlite"
    shutil.copyfile(seeded_file, path)
    org_settings = emulator_settings(key_pair, outbound_listener_url=f"http://127.0.0.1:{port}/outbound", **settings)
    async with serve_apps({"listener": (listener.app(), port)}), running_org(path, org_settings) as org:
        yield OutboundSetup(org, listener, await org.token())


@pytest.fixture
async def outbound(tmp_path: Path, key_pair: KeyPair, seeded_file: Path) -> AsyncIterator[OutboundSetup]:
    async for setup in _outbound(tmp_path, key_pair, seeded_file):
        yield setup


async def test_closing_a_deal_sends_one_soap_notification_with_the_opportunity(outbound: OutboundSetup):
    await outbound.close("006NW0000000001")
    await eventually(lambda: len(outbound.listener.received) == 1)
    async with await outbound.org.rest() as rest:  # further edits of a closed deal send nothing more
        await rest.patch(f"{API}/sobjects/Opportunity/006NW0000000001", json={"Name": "Northwind, renamed"})

    [(status, envelope)] = outbound.listener.received
    notifications = envelope.find("soapenv:Body/out:notifications", NS)
    assert status == 200 and notifications is not None
    assert notifications.findtext("out:OrganizationId", namespaces=NS) == "00DNW00000000012AA"
    assert (notifications.findtext("out:ActionId", namespaces=NS) or "").startswith("04k")
    session = notifications.find("out:SessionId", NS)
    assert session is not None and session.get(f"{{{NS['xsi']}}}nil") == "true"
    enterprise = notifications.findtext("out:EnterpriseUrl", namespaces=NS) or ""
    partner = notifications.findtext("out:PartnerUrl", namespaces=NS) or ""
    assert enterprise == f"{outbound.org.url}/services/Soap/c/61.0/00DNW00000000012AA"
    assert partner == f"{outbound.org.url}/services/Soap/u/61.0/00DNW00000000012AA"
    sobject = notifications.find("out:Notification/out:sObject", NS)
    assert sobject is not None and sobject.get(f"{{{NS['xsi']}}}type") == "sf:Opportunity"
    [notification] = outbound.listener.notifications()
    assert notification.notification_id.startswith("04l") and len(notification.notification_id) == 18
    assert notification.fields == {
        "Id": "006NW0000000001YAA",
        "AccountId": "001NW0000000001YAA",
        "StageName": "Closed Won",
    }

    await asyncio.sleep(0.15)  # a few delivery polls: nothing else is sent
    assert len(outbound.listener.received) == 1
    [message] = await outbound.messages()
    assert (message["status"], message["attempts"], message["deliveries"]) == ("delivered", 1, 1)


async def test_a_duplicated_delivery_carries_the_same_notification_id(outbound: OutboundSetup):
    outbound.org.fault(FaultRule(kind="duplicate_webhook", rate=1))
    await outbound.close("006NW0000000003")
    await eventually(lambda: len(outbound.listener.received) == 2)

    first, second = outbound.listener.notifications()
    assert first == second  # same Id: a listener that deduplicates on it starts one saga
    assert len({n.notification_id for n in outbound.listener.notifications()}) == 1
    [message] = await outbound.messages()
    assert message["deliveries"] == 2 and message["status"] == "delivered"


async def test_a_listener_that_fails_gets_the_message_again_until_it_acknowledges(outbound: OutboundSetup):
    outbound.listener.failing = 2
    await outbound.close("006NW0000000001")
    await eventually(lambda: len(outbound.listener.received) == 3)

    failed = outbound.listener.notifications(status=500)
    [acknowledged] = outbound.listener.notifications(status=200)
    assert len(failed) == 2 and {n.notification_id for n in failed} == {acknowledged.notification_id}
    [message] = await outbound.messages()
    assert (message["status"], message["attempts"], message["deliveries"]) == ("delivered", 3, 1)
    assert message["last_error"] is None


@pytest.fixture
async def slow_retries(tmp_path: Path, key_pair: KeyPair, seeded_file: Path) -> AsyncIterator[OutboundSetup]:
    """Automatic retries far off, batches of one: the test decides when pending notifications go out."""
    settings = {"outbound_retry_initial_seconds": 60, "outbound_retry_max_seconds": 60, "outbound_batch_size": 1}
    async for setup in _outbound(tmp_path, key_pair, seeded_file, **settings):
        yield setup


async def test_notifications_can_arrive_out_of_order(slow_retries: OutboundSetup):
    slow_retries.listener.failing = 2
    await slow_retries.close("006NW0000000001")
    await slow_retries.close("006NW0000000003")
    await eventually(lambda: len(slow_retries.listener.received) == 2)  # both tried once, both failed
    slow_retries.org.fault(FaultRule(kind="reorder_webhooks", rate=1))

    async with httpx.AsyncClient(base_url=slow_retries.org.url) as admin:
        delivered = (await admin.post("/_sandbox/outbound-messages/deliver", params={"all": "true"})).json()

    assert delivered == {"acknowledged": 2}
    assert [n.fields["Id"] for n in slow_retries.listener.notifications()] == [
        "006NW0000000003YAA",
        "006NW0000000001YAA",
    ]
    assert [m["status"] for m in await slow_retries.messages()] == ["delivered", "delivered"]
