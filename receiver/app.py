"""The trigger receiver: vendor events in, saga starts out. It answers fast; the work happens in the saga.

Endpoints: Salesforce Outbound Messages (`/salesforce/outbound-messages`), Stripe webhooks (`/stripe/webhooks`),
HubSpot webhooks (`/hubspot/webhooks`) and generic signed events (`/events/{source}`); each scheme lives in its
own module, and what they share (limits, refusals, starting sagas) in `receiver.deliveries`. A scheme whose secret
is not configured answers 404. A Temporal outage answers 503 so the vendor retries and no event is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, Response
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.salesforce.ids import id15
from canonical.amendment_mapping import AMENDMENT_TYPE
from canonical.saga_policy import SagaPolicy
from receiver import hubspot_webhooks, signed_events, stripe_webhooks
from receiver.codec_endpoint import mount_codec_endpoint
from receiver.console import create_console
from receiver.console.web import Console
from receiver.deliveries import DeliveryRefused, NotConfigured, SagaStarter, read_body
from receiver.salesforce_outbound import ACK, MalformedOutboundMessage, parse_outbound_message
from receiver.settings import ReceiverSettings
from receiver.trigger_tracing import TriggerSpans
from workflows.closed_won_client import start_closed_won
from workflows.invoice_client import start_amendment

__all__ = ["ReceiverSettings", "create_receiver_app"]

CLOSED_WON = "Closed Won"
CONSOLE_PATH = "/console"
log = logging.getLogger("q2c.receiver")


def create_receiver_app(
    client: Callable[[], Awaitable[Client]], settings: ReceiverSettings, policy: Callable[[], SagaPolicy]
) -> FastAPI:
    """`client` and `policy` are called per event, so a reconnect or a policy edit needs no restart."""
    console = None if settings.console is None else create_console(settings.console, client)
    app = FastAPI(title="q2c trigger receiver", docs_url=None, redoc_url=None, lifespan=_closing(console))
    if console is not None:
        app.mount(CONSOLE_PATH, console[0])  # the finance console (receiver/console)
    starter = SagaStarter(client, policy, settings.task_queue)
    app.add_exception_handler(DeliveryRefused, _refused)
    app.add_middleware(TriggerSpans)
    mount_codec_endpoint(app)  # /codec, when payloads are encrypted and a codec token is set

    @app.post("/salesforce/outbound-messages")
    async def salesforce_outbound_message(request: Request) -> Response:
        try:
            message = parse_outbound_message(await request.body())
        except MalformedOutboundMessage as error:
            log.warning("rejected a Salesforce outbound message: %s", error)
            return Response(f"malformed outbound message: {error}", status_code=400, media_type="text/plain")
        if id15(message.organization_id) != id15(settings.salesforce_organization_id):
            log.warning("rejected an outbound message from organisation %s", message.organization_id)
            return Response("unknown organization", status_code=403, media_type="text/plain")
        try:
            temporal = await client()
            for notification in message.notifications:
                if notification.stage == CLOSED_WON:
                    # Salesforce sends 18-character IDs; the saga's identity uses the 15-character form.
                    opportunity_id = id15(notification.opportunity_id)
                    if notification.opportunity_type == AMENDMENT_TYPE:
                        fresh = (await start_amendment(temporal, opportunity_id, policy(), settings.task_queue)).started
                    else:
                        fresh = (
                            await start_closed_won(temporal, opportunity_id, policy(), settings.task_queue)
                        ).started
                    log.info("opportunity %s: %s", opportunity_id, "saga started" if fresh else "saga exists")
        except (RPCError, RuntimeError) as error:
            log.warning("Temporal unavailable, asking Salesforce to retry: %s", error)
            return Response("temporal unavailable, retry later", status_code=503, media_type="text/plain")
        return Response(ACK, media_type="text/xml")

    @app.post("/stripe/webhooks")
    async def stripe_webhook(request: Request) -> Response:
        if not settings.stripe_webhook_secrets:
            raise NotConfigured("stripe webhooks not configured")
        body = await read_body(request)
        signature = request.headers.get(stripe_webhooks.SIGNATURE_HEADER)
        stripe_webhooks.verify_stripe_signature(body, signature, settings.stripe_secrets())
        return await starter.answer(stripe_webhooks.stripe_triggers(body))

    @app.post("/hubspot/webhooks")
    async def hubspot_webhook(request: Request) -> Response:
        secret = settings.hubspot_secret()
        if secret is None:
            raise NotConfigured("hubspot webhooks not configured")
        body = await read_body(request)
        delivery = hubspot_webhooks.HubSpotDelivery(
            method=request.method,
            uri=settings.hubspot_webhook_url or str(request.url),
            body=body,
            signature=request.headers.get(hubspot_webhooks.SIGNATURE_HEADER),
            timestamp=request.headers.get(hubspot_webhooks.TIMESTAMP_HEADER),
        )
        hubspot_webhooks.verify_hubspot_signature(delivery, secret, time.time())
        return await starter.answer(hubspot_webhooks.hubspot_triggers(body, settings.hubspot_closed_won_stages))

    @app.post("/events/{source}")
    async def signed_event(source: str, request: Request) -> Response:
        secrets = settings.event_source_secrets_of(source)
        if not secrets:
            raise NotConfigured("event source not configured")
        body = await read_body(request)
        signature = request.headers.get(signed_events.SIGNATURE_HEADER)
        signed_events.verify_q2c_signature(body, signature, secrets, time.time())
        return await starter.answer(signed_events.signed_event_triggers(body))

    return app


def _closing(console: tuple[FastAPI, Console] | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The receiver's lifespan: the console's store connections close with the server."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if console is not None:
                await console[1].close()

    return lifespan


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, DeliveryRefused)  # registered for DeliveryRefused only
    client = request.client.host if request.client else "?"
    log.warning("refused %s %s from %s (%d): %s", request.method, request.url.path, client, error.status, error.reason)
    return Response(error.reason, status_code=error.status, media_type="text/plain")
