"""The emulator's records inside one store transaction, with the request's context (for events) and time.

Every object is a document in the collection named by its `object` field. Time is the wall clock, except for
customers on a test clock (and everything billed to them), whose time is the clock's frozen time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.store import Transaction
from sandbox.stripe import objects
from sandbox.stripe.errors import no_such
from sandbox.stripe.ids import new_id
from sandbox.stripe.settings import StripeEmulatorSettings

Obj = dict[str, Any]

# The names Stripe uses in "No such ..." messages.
_NAMES = {
    "billing.meter": "billing.meter",
    "test_helpers.test_clock": "test_clock",
    "subscription_item": "subscription item",
    "invoiceitem": "invoiceitem",
}

DELIVERIES = "webhook_delivery"


def wall_clock() -> int:
    return int(time.time())


@dataclass
class Records:
    tx: Transaction
    settings: StripeEmulatorSettings
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = ""
    wake_webhooks: Callable[[], None] = lambda: None
    emitted: list[str] = field(default_factory=list)

    async def get(self, kind: str, object_id: str) -> Obj | None:
        return await self.tx.get(kind, object_id)

    async def require(self, kind: str, object_id: str, param: str | None = None) -> Obj:
        """The object, or Stripe's `No such ...`: 404 for an ID in the path, 400 naming `param` otherwise."""
        found = await self.tx.get(kind, object_id) if object_id else None
        if found is None or found.get("_deleted"):
            name = _NAMES.get(kind, kind)
            raise no_such(name, object_id, param or "id", 404 if param is None else 400)
        return found

    async def put(self, document: Obj) -> None:
        await self.tx.put(document["object"], document["id"], document)

    async def all(self, kind: str, **equals: Any) -> list[Obj]:
        return await self.tx.find(kind, **equals)

    async def now_for(self, customer: Obj | None) -> int:
        clock_id = (customer or {}).get("test_clock")
        if clock_id:
            clock = await self.tx.get("test_helpers.test_clock", clock_id)
            if clock is not None:
                return int(clock["frozen_time"])
        return wall_clock()

    async def customer_now(self, customer_id: str) -> int:
        return await self.now_for(await self.tx.get("customer", customer_id))

    async def emit(self, event_type: str, data_object: Obj, created: int, previous: Obj | None = None) -> Obj:
        """Record an event and queue one delivery per webhook endpoint that wants it."""
        endpoints = [e for e in self.settings.webhook_endpoints if e.wants(event_type)]
        event = objects.event(
            new_id("event"),
            created,
            event_type,
            data_object,
            previous,
            self.api_version or self.settings.api_version,
            self.request_id,
            self.idempotency_key,
            len(endpoints),
        )
        event["_sequence"] = await self.tx.count("event")
        await self.put(event)
        for endpoint in endpoints:
            delivery_id = f"{event['id']}:{endpoint.url}"
            await self.tx.put(
                DELIVERIES,
                delivery_id,
                {
                    "id": delivery_id,
                    "event": event["id"],
                    "url": endpoint.url,
                    "attempts": 0,
                    "next_attempt_at": time.time(),
                    "state": "pending",
                },
            )
        self.emitted.append(event["id"])
        if endpoints:
            self.wake_webhooks()
        return event
