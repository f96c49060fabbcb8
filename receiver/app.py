"""The trigger receiver: vendor events in, saga starts out. It answers fast; the work happens in the saga.

Today it takes Salesforce Outbound Messages; HubSpot, Stripe and generic signed webhooks join it later.
A Temporal outage answers 503 so the vendor retries and no event is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.salesforce.ids import id15
from canonical.saga_policy import SagaPolicy
from receiver.salesforce_outbound import ACK, MalformedOutboundMessage, parse_outbound_message
from workflows.closed_won_client import start_closed_won

CLOSED_WON = "Closed Won"
log = logging.getLogger("q2c.receiver")


class ReceiverSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    salesforce_organization_id: str
    task_queue: str = "q2c"


def create_receiver_app(
    client: Callable[[], Awaitable[Client]], settings: ReceiverSettings, policy: Callable[[], SagaPolicy]
) -> FastAPI:
    """`client` and `policy` are called per event, so a reconnect or a policy edit needs no restart."""
    app = FastAPI(title="q2c trigger receiver", docs_url=None, redoc_url=None)

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
                    started = await start_closed_won(temporal, opportunity_id, policy(), settings.task_queue)
                    log.info("opportunity %s: %s", opportunity_id, "saga started" if started.started else "saga exists")
        except (RPCError, RuntimeError) as error:
            log.warning("Temporal unavailable, asking Salesforce to retry: %s", error)
            return Response("temporal unavailable, retry later", status_code=503, media_type="text/plain")
        return Response(ACK, media_type="text/xml")

    return app
