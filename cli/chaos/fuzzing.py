"""Fuzzed webhooks for the receiver, from a seeded generator: garbage bodies, forged and missing signatures, foreign
organisations, and correctly signed events that name documents no one has. Each must get a 4xx, be ignored, or
start a saga that parks; none may get a 5xx."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass

import httpx

from cli.sandbox import OUTBOUND_PATH
from cli.stacks import SANDBOX_STRIPE_WEBHOOK_SECRET, STRIPE_WEBHOOK_PATH


@dataclass(frozen=True)
class Delivery:
    kind: str
    path: str
    body: bytes
    headers: dict[str, str]
    document: str | None = None  # the invoice a signed event names: its saga must park


def _sign(body: bytes, secret: str = SANDBOX_STRIPE_WEBHOOK_SECRET) -> str:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def _noise(chooser: random.Random) -> bytes:
    return bytes(chooser.randrange(256) for _ in range(chooser.randint(0, 400)))


def deliveries(count: int, seed: int) -> list[Delivery]:
    chooser = random.Random(seed)
    made = []
    for number in range(count):
        kind = chooser.choice(("noise", "forged", "unsigned", "signed_garbage", "signed_unknown_invoice", "soap"))
        made.append(_delivery(kind, number, chooser))
    return made


def _delivery(kind: str, number: int, chooser: random.Random) -> Delivery:
    json_type = {"Content-Type": "application/json"}
    if kind == "noise":
        body = _noise(chooser)
        return Delivery(kind, STRIPE_WEBHOOK_PATH, body, json_type | {"Stripe-Signature": _sign(body)})
    if kind == "forged":
        body = json.dumps({"object": "event", "id": f"evt_fz{number}", "type": "invoice.finalized"}).encode()
        return Delivery(kind, STRIPE_WEBHOOK_PATH, body, json_type | {"Stripe-Signature": _sign(body, "whsec_wrong")})
    if kind == "unsigned":
        return Delivery(kind, STRIPE_WEBHOOK_PATH, _noise(chooser), json_type)
    if kind == "signed_garbage":
        shape = chooser.choice([[], {"object": "event"}, {"object": "event", "id": 7, "type": None}, "x" * 50])
        body = json.dumps(shape).encode()
        return Delivery(kind, STRIPE_WEBHOOK_PATH, body, json_type | {"Stripe-Signature": _sign(body)})
    if kind == "signed_unknown_invoice":
        document = f"in_FUZZ{number:06d}{chooser.randrange(10**6):06d}"
        event = {
            "object": "event",
            "id": f"evt_fz{number}",
            "type": "invoice.finalized",
            "data": {"object": {"object": "invoice", "id": document}},
        }
        body = json.dumps(event).encode()
        return Delivery(kind, STRIPE_WEBHOOK_PATH, body, json_type | {"Stripe-Signature": _sign(body)}, document)
    body = chooser.choice([_noise(chooser), b"<soapenv:Envelope>", _foreign_outbound_message(number)])
    return Delivery(kind, OUTBOUND_PATH, body, {"Content-Type": "text/xml"})


def _foreign_outbound_message(number: int) -> bytes:
    return (
        '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>00DXX000000{number:04d}</OrganizationId>"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


async def deliver(receiver_url: str, batch: list[Delivery]) -> tuple[dict[str, int], list[str]]:
    """Send each; the answers by status class, and every 5xx or refused connection in words."""
    answers: dict[str, int] = {}
    problems = []
    async with httpx.AsyncClient(base_url=receiver_url, timeout=10) as http:
        for delivery in batch:
            try:
                response = await http.post(delivery.path, content=delivery.body, headers=delivery.headers)
            except httpx.HTTPError as error:
                problems.append(f"fuzzed {delivery.kind} webhook: the receiver failed ({type(error).__name__})")
                continue
            answers[f"{response.status_code // 100}xx"] = answers.get(f"{response.status_code // 100}xx", 0) + 1
            if response.status_code >= 500:
                problems.append(f"fuzzed {delivery.kind} webhook got {response.status_code}: {response.text[:80]}")
    return answers, problems
