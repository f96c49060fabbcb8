"""Salesforce Outbound Messages: the SOAP notifications Salesforce sends when an opportunity closes.

Salesforce delivers each message at least once, possibly out of order, and retries until it gets
`<Ack>true</Ack>`. Starting the saga under the deterministic workflow ID `closed-won/<opportunity>` makes a
redelivery start nothing new, so acknowledging after the start is enough for exactly-once sagas.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_BODY_BYTES = 1_000_000
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class MalformedOutboundMessage(ValueError):
    pass


@dataclass(frozen=True)
class OpportunityNotification:
    notification_id: str
    opportunity_id: str
    stage: str
    opportunity_type: str = ""  # Salesforce's Type: "Amendment" for a change to a contract


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    notifications: tuple[OpportunityNotification, ...]


def parse_outbound_message(body: bytes) -> OutboundMessage:
    if len(body) > MAX_BODY_BYTES:
        raise MalformedOutboundMessage(f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise MalformedOutboundMessage(f"not XML: {error}") from error
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise MalformedOutboundMessage("no <notifications> element in the SOAP body")
    organization = notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId", "").strip()
    if not organization:
        raise MalformedOutboundMessage("<OrganizationId> is missing")
    return OutboundMessage(
        organization_id=organization,
        notifications=tuple(
            _opportunity(n) for n in notifications.findall(f"{{{OUTBOUND_NS}}}Notification") if _is_opportunity(n)
        ),
    )


def _is_opportunity(notification: ElementTree.Element) -> bool:
    sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
    return sobject is not None and sobject.get(XSI_TYPE, "").endswith("Opportunity")


def _opportunity(notification: ElementTree.Element) -> OpportunityNotification:
    sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
    assert sobject is not None  # filtered by _is_opportunity
    fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in sobject}
    notification_id = notification.findtext(f"{{{OUTBOUND_NS}}}Id", "").strip()
    if not fields.get("Id") or not notification_id:
        raise MalformedOutboundMessage("a notification lacks its Id or the opportunity's Id")
    return OpportunityNotification(notification_id, fields["Id"], fields.get("StageName", ""), fields.get("Type", ""))
