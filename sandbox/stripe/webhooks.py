"""Signed webhook deliveries: at least once, retried with back-off until the endpoint answers 2xx.

Each delivery POSTs the event as JSON with `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`,
keyed with the endpoint's secret. Faults: `duplicate_webhook` sends an event twice; `reorder_webhooks`
delivers a batch of due events newest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from sandbox.faults import FaultInjector
from sandbox.store import DocumentStore
from sandbox.stripe.objects import public
from sandbox.stripe.records import DELIVERIES
from sandbox.stripe.settings import StripeEmulatorSettings

log = logging.getLogger(__name__)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookDispatcher:
    def __init__(self, store: DocumentStore, settings: StripeEmulatorSettings, faults: FaultInjector) -> None:
        self._store = store
        self._settings = settings
        self._faults = faults
        self._secrets = {e.url: e.secret for e in settings.webhook_endpoints}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.delivered: list[str] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None and self._settings.webhook_endpoints:
            self._task = asyncio.create_task(self._run(), name="stripe-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self._settings.webhook_timeout_seconds) as client:
            while True:
                delay = await self.deliver_due(client)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def deliver_due(self, client: httpx.AsyncClient) -> float:
        """Attempt every due delivery once; returns how long to wait before the next one is due."""
        async with self._store.transaction() as tx:
            now = time.time()  # read under the lock, so a batch committed together is due together
            due = []
            for delivery in await tx.find(DELIVERIES, state="pending"):
                event = await tx.get("event", delivery["event"])
                if event is not None and delivery["next_attempt_at"] <= now:
                    due.append((event["_sequence"], delivery, event))
        due.sort(key=lambda entry: entry[0])
        if len(due) > 1 and self._faults.should("reorder_webhooks"):
            due.reverse()
        for _, delivery, event in due:
            ok = await self._post(client, delivery["url"], event)
            if ok and self._faults.should("duplicate_webhook"):
                await self._post(client, delivery["url"], event)
            await self._record(delivery, ok)
        async with self._store.transaction() as tx:
            waiting = [d["next_attempt_at"] for d in await tx.find(DELIVERIES, state="pending")]
        return max(0.05, min(waiting) - time.time()) if waiting else 3600.0

    async def _post(self, client: httpx.AsyncClient, url: str, event: dict[str, Any]) -> bool:
        payload = json.dumps(public(event), indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(payload, self._secrets.get(url, ""), int(time.time())),
        }
        try:
            response = await client.post(url, content=payload, headers=headers)
        except httpx.HTTPError as error:
            log.info("webhook %s to %s failed: %s", event["id"], url, error)
            return False
        if 200 <= response.status_code < 300:
            self.delivered.append(event["id"])
            return True
        return False

    async def _record(self, delivery: dict[str, Any], ok: bool) -> None:
        attempts = delivery["attempts"] + 1
        delays = self._settings.webhook_retry_delays_seconds
        update: dict[str, Any] = {**delivery, "attempts": attempts}
        if ok:
            update["state"] = "delivered"
        elif attempts > len(delays):
            update["state"] = "failed"
        else:
            update["next_attempt_at"] = time.time() + delays[attempts - 1]
        async with self._store.transaction() as tx:
            await tx.put(DELIVERIES, delivery["id"], update)
            if update["state"] != "pending":
                event = await tx.get("event", delivery["event"])
                if event is not None:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
                    await tx.put("event", event["id"], event)
