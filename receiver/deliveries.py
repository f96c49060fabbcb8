"""What every webhook scheme shares: a bounded body, the ways a delivery is refused, and the saga starts.

A delivery is checked in this order, and the first failure answers with a short plain-text reason that never holds
a secret or the body: endpoint configured (404), size (413), signature (400 malformed header, 401 forged or
outside the time window), body (400). Only then is Temporal asked to start anything; if it cannot be reached the
answer is 503, so the vendor retries later and no event is lost. Workflow IDs derive from the document or
opportunity, so a redelivery finds its saga already there and starts nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request, Response
from temporalio.client import Client
from temporalio.service import RPCError

from canonical.saga_policy import SagaPolicy
from workflows.closed_won_client import start_closed_won
from workflows.invoice_client import start_invoice_to_revenue, start_payment_settled

MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any real event, far below what would hurt
WINDOW_SECONDS = 300  # how far a signed timestamp may be from our clock (Stripe's default tolerance)
# What an object ID may look like: the IDs of Stripe (in_..., cn_...), HubSpot (digits) and Salesforce (alphanumeric)
# fit, and it is safe inside a workflow ID and a log line.
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
# What "Temporal is unavailable" looks like: an RPC failure, or no connection at all (the client factory raises
# RuntimeError, and sockets raise OSError or time out).
TEMPORAL_UNAVAILABLE = (RPCError, RuntimeError, OSError, TimeoutError)

log = logging.getLogger("q2c.receiver")


class DeliveryRefused(Exception):
    """A delivery the receiver will not act on. `reason` is short, plain and free of secrets and body content."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Malformed(DeliveryRefused):
    status = 400


class Forged(DeliveryRefused):
    """The signature does not verify with any secret we hold."""

    status = 401


class Stale(DeliveryRefused):
    """Signed correctly, but outside the time window: late, replayed, or from a sender with a wrong clock."""

    status = 401


class TooLarge(DeliveryRefused):
    status = 413


class NotConfigured(DeliveryRefused):
    status = 404


class Saga(StrEnum):
    INVOICE_TO_REVENUE = "invoice-to-revenue"
    PAYMENT_SETTLED = "payment-settled"
    CLOSED_WON = "closed-won"


# Event types (Stripe's names, which the generic signed events reuse) and the saga each starts.
SAGA_FOR_EVENT: dict[str, Saga] = {
    "invoice.finalized": Saga.INVOICE_TO_REVENUE,
    "credit_note.created": Saga.INVOICE_TO_REVENUE,
    "invoice.paid": Saga.PAYMENT_SETTLED,
    "opportunity.closed_won": Saga.CLOSED_WON,
}


@dataclass(frozen=True)
class SagaTrigger:
    saga: Saga
    object_id: str  # the invoice, credit note or opportunity the saga is about
    event_id: str  # the sender's event, for the log


@dataclass(frozen=True)
class Triggers:
    """What a verified delivery asks for: the sagas to start, and the events it carried that start nothing."""

    starts: tuple[SagaTrigger, ...] = ()
    ignored: tuple[str, ...] = ()  # what each ignored event was (see `described`), logged at debug


def described(event_id: object, event_type: object) -> str:
    """An ignored event for the debug log: repr'd and cut short, since neither value has been checked."""
    return f"{repr(event_id)[:80]} ({repr(event_type)[:80]})"


def identifier(value: object, what: str, *, numbers: bool = False) -> str:
    """`value` as an object or event ID, or Malformed naming `what` (never echoing the value, which could be
    anything, into the answer or the log). With `numbers`, an integer is taken too (HubSpot's IDs are numbers)."""
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a {'number or ' if numbers else ''}string")
    if not _IDENTIFIER.fullmatch(value):
        raise Malformed(f"{what} is not an ID (1-255 letters, digits, '_', '.', ':' or '-')")
    return value


def json_body(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: deeply nested arrays, well within 1 MiB
        raise Malformed("body is not JSON") from error


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused before reading when Content-Length says it is too large, and while reading when a
    chunked (or lying) sender goes past `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _CONTENT_LENGTH.fullmatch(declared):
            raise Malformed("invalid Content-Length")
        if int(declared) > limit:
            raise TooLarge(f"body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"body exceeds {limit} bytes")
    return bytes(body)


@dataclass(frozen=True)
class SagaStarter:
    """Starts the sagas a verified delivery asks for and answers the sender."""

    client: Callable[[], Awaitable[Client]]
    policy: Callable[[], SagaPolicy]
    task_queue: str

    async def answer(self, triggers: Triggers) -> Response:
        for ignored in triggers.ignored:
            log.debug("ignored event %s", ignored)
        try:
            started = await self.start(triggers.starts) if triggers.starts else {}
        except TEMPORAL_UNAVAILABLE as error:
            log.warning("Temporal unavailable, asking the sender to retry: %s", error)
            return Response("temporal unavailable, retry later", status_code=503, media_type="text/plain")
        for trigger in triggers.starts:
            outcome = "started" if started[trigger.saga, trigger.object_id] else "exists"
            log.info("event %s: %s saga for %s %s", trigger.event_id, trigger.saga.value, trigger.object_id, outcome)
        news = sum(started.values())
        summary = f"started {news}, already started {len(started) - news}, ignored {len(triggers.ignored)}"
        return Response(summary, media_type="text/plain")

    async def start(self, triggers: Sequence[SagaTrigger]) -> dict[tuple[Saga, str], bool]:
        """Start each distinct saga once (a batch may name a deal twice); True where it is new."""
        temporal = await self.client()
        policy = self.policy()
        wanted = list(dict.fromkeys((t.saga, t.object_id) for t in triggers))
        outcomes = await asyncio.gather(
            *(self._start(temporal, saga, document, policy) for saga, document in wanted), return_exceptions=True
        )
        _raise_first_failure(outcomes)
        return {key: outcome is True for key, outcome in zip(wanted, outcomes, strict=True)}

    async def _start(self, temporal: Client, saga: Saga, document: str, policy: SagaPolicy) -> bool:
        if saga is Saga.CLOSED_WON:
            return (await start_closed_won(temporal, document, policy, self.task_queue)).started
        if saga is Saga.PAYMENT_SETTLED:
            return (await start_payment_settled(temporal, document, policy, self.task_queue)).started
        return (await start_invoice_to_revenue(temporal, document, policy, self.task_queue)).started


def _raise_first_failure(outcomes: Iterable[bool | BaseException]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
