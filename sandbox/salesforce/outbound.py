"""The Outbound Message that tells q2c a deal closed: a workflow rule on Opportunity ("StageName changed to
Closed Won") enqueues a notification in the same transaction as the save; a background task delivers pending
notifications as SOAP to the configured listener, up to 100 a message, until the listener acknowledges with
`<Ack>true</Ack>`, backing off between attempts, and drops them after 24 hours.

Delivery is at least once and possibly out of order (the `duplicate_webhook` and `reorder_webhooks` faults make
that happen on purpose): listeners deduplicate on the notification Id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import xml.etree.ElementTree as ElementTree
from typing import Any
from xml.sax.saxutils import escape

import httpx

from sandbox.faults import FaultInjector
from sandbox.salesforce import ids
from sandbox.salesforce.records import SavedRecord
from sandbox.salesforce.schema import STAGE_CLOSED_WON
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.store import Document, DocumentStore, Transaction

OUTBOUND = "outbound_messages"
OUTBOUND_NAMESPACE = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NAMESPACE = "urn:sobject.enterprise.soap.sforce.com"
NOTIFIED_FIELDS = ("Id", "AccountId", "StageName", "Type")  # Type tells a new deal from an amendment
PENDING, DELIVERED, EXPIRED = "pending", "delivered", "expired"
logger = logging.getLogger(__name__)


class OutboundMessages:
    def __init__(self, store: DocumentStore, faults: FaultInjector, settings: SalesforceEmulatorSettings) -> None:
        self._store = store
        self._faults = faults
        self._settings = settings
        self._wake = asyncio.Event()
        self.organization_id = ids.to18(settings.organization_id)
        self.action_id = ids.to18(settings.outbound_action_id)
        self.instance_url = ""  # set from the first request the app serves

    async def on_save(self, tx: Transaction, saved: SavedRecord) -> None:
        """The workflow rule: enqueue when an Opportunity's stage becomes Closed Won (on create or on update)."""
        if saved.sobject.name != "Opportunity" or saved.after.get("StageName") != STAGE_CLOSED_WON:
            return
        if saved.before is not None and saved.before.get("StageName") == STAGE_CLOSED_WON:
            return
        sequence = await tx.count(OUTBOUND) + 1
        notification_id = ids.to18(f"{ids.OUTBOUND_NOTIFICATION_PREFIX}{ids.GENERATED_POD}0{sequence:09d}")
        now = time.time()
        await tx.put(
            OUTBOUND,
            notification_id,
            {
                "notification_id": notification_id,
                "action_id": self.action_id,
                "sobject_type": "Opportunity",
                "sobject": {name: saved.after.get(name) for name in NOTIFIED_FIELDS},
                "instance_url": self.instance_url,
                "status": PENDING,
                "attempts": 0,
                "deliveries": 0,
                "created_at": now,
                "next_attempt_at": now,
                "delivered_at": None,
                "last_error": None,
            },
        )
        self._wake.set()

    async def listing(self, status: str | None = None) -> list[Document]:
        messages = await self._store.find(OUTBOUND)
        return [m for m in messages if status is None or m["status"] == status]

    async def run(self) -> None:
        """The delivery loop: wakes on a new notification or every poll interval."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.outbound_poll_seconds)
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:  # a delivery bug must not stop the loop; the message stays pending
                logger.exception("outbound message delivery failed")

    async def deliver_due(self, everything: bool = False) -> int:
        """Send every due notification (every pending one if `everything`) once, in SOAP messages of up to the
        batch size; returns how many were acknowledged."""
        url = self._settings.outbound_listener_url
        now = time.time()
        due = [m for m in await self.listing(PENDING) if everything or m["next_attempt_at"] <= now]
        expired = [m for m in due if now - m["created_at"] > self._settings.outbound_expiry_seconds]
        await self._update(expired, {"status": EXPIRED}, attempted=False)
        due = [m for m in due if m not in expired]
        if url is None or not due:
            return 0
        if self._faults.should("reorder_webhooks"):
            due.reverse()
        acked = 0
        size = self._settings.outbound_batch_size
        async with httpx.AsyncClient(timeout=self._settings.outbound_timeout_seconds) as client:
            for start in range(0, len(due), size):
                batch = due[start : start + size]
                acked += await self._deliver(client, url, batch)
        return acked

    async def _deliver(self, client: httpx.AsyncClient, url: str, batch: list[Document]) -> int:
        body = self.soap(batch)
        copies = 2 if self._faults.should("duplicate_webhook") else 1
        error: str | None = None
        acked = 0
        for _ in range(copies):
            error = await _post(client, url, body)
            if error is not None:
                break
            acked += 1
        now = time.time()
        if error is None:
            await self._update(batch, {"status": DELIVERED, "delivered_at": now, "last_error": None}, True, acked)
            return len(batch)
        for message in batch:
            delay = min(
                self._settings.outbound_retry_initial_seconds * 2 ** message["attempts"],
                self._settings.outbound_retry_max_seconds,
            )
            await self._update([message], {"next_attempt_at": now + delay, "last_error": error}, True, acked)
        return 0

    async def _update(self, messages: list[Document], changes: dict[str, Any], attempted: bool, acked: int = 0) -> None:
        """Apply `changes`, counting one delivery attempt and `acked` acknowledged POSTs."""
        async with self._store.transaction() as tx:
            for message in messages:
                current = await tx.get(OUTBOUND, message["notification_id"]) or message
                counts = {"attempts": current["attempts"] + int(attempted), "deliveries": current["deliveries"] + acked}
                await tx.put(OUTBOUND, message["notification_id"], current | changes | counts)

    def soap(self, batch: list[Document]) -> str:
        instance_url = batch[0]["instance_url"] or self.instance_url
        version = self._settings.api_version
        notifications = "".join(_notification(m) for m in batch)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body>"
            f'<notifications xmlns="{OUTBOUND_NAMESPACE}">'
            f"<OrganizationId>{self.organization_id}</OrganizationId>"
            f"<ActionId>{batch[0]['action_id']}</ActionId>"
            '<SessionId xsi:nil="true"/>'
            f"<EnterpriseUrl>{escape(instance_url)}/services/Soap/c/{version}/{self.organization_id}</EnterpriseUrl>"
            f"<PartnerUrl>{escape(instance_url)}/services/Soap/u/{version}/{self.organization_id}</PartnerUrl>"
            f"{notifications}"
            "</notifications>"
            "</soapenv:Body>"
            "</soapenv:Envelope>"
        )


def _notification(message: Document) -> str:
    present = {name: value for name, value in message["sobject"].items() if value is not None}
    fields = "".join(f"<sf:{name}>{escape(str(value))}</sf:{name}>" for name, value in present.items())
    return (
        f"<Notification><Id>{message['notification_id']}</Id>"
        f'<sObject xsi:type="sf:{message["sobject_type"]}" xmlns:sf="{SOBJECT_NAMESPACE}">{fields}</sObject>'
        "</Notification>"
    )


async def _post(client: httpx.AsyncClient, url: str, body: str) -> str | None:
    """POST one SOAP message; None if the listener acknowledged it, else why not."""
    try:
        response = await client.post(
            url, content=body.encode(), headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        )
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None if _acknowledged(response.content) else "the listener did not answer <Ack>true</Ack>"


def _acknowledged(body: bytes) -> bool:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return False
    return any(e.tag.rpartition("}")[2] == "Ack" and (e.text or "").strip() == "true" for e in root.iter())
