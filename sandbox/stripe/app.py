"""The Stripe Billing emulator as a FastAPI app: `create_app(store, faults, settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from sandbox.faults import FaultInjector, FaultRule, install_faults
from sandbox.store import DocumentStore
from sandbox.stripe.errors import StripeError, api_error, error_body, rate_limited
from sandbox.stripe.gateway import StripeGateway
from sandbox.stripe.routes import (
    catalog,
    clocks,
    credit_notes,
    customers,
    invoice_payments,
    invoices,
    meters,
    subscriptions,
)
from sandbox.stripe.settings import StripeEmulatorSettings
from sandbox.stripe.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


def fault_response(rule: FaultRule) -> Response:
    """Injected faults in Stripe's own shapes: a 5xx `api_error`, or the 429 rate-limit error."""
    if rule.kind == "rate_limit":
        return rate_limited(rule.retry_after_seconds)
    return api_error(rule.status, "An unknown error occurred").response()


def create_app(store: DocumentStore, faults: FaultInjector, settings: StripeEmulatorSettings | None = None) -> FastAPI:
    settings = settings or StripeEmulatorSettings()
    dispatcher = WebhookDispatcher(store, settings, faults)
    background: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        try:
            yield
        finally:
            for task in list(background):
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await dispatcher.stop()

    app = FastAPI(
        title="Stripe Billing emulator (q2c sandbox)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.faults = faults
    app.state.dispatcher = dispatcher
    app.state.background = background

    @app.exception_handler(StripeError)
    async def stripe_error(request: Request, error: StripeError) -> JSONResponse:
        request.state.validation_failed = error.validation
        return error.response()

    @app.exception_handler(HTTPException)
    async def unknown_url(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code in (404, 405):
            message = (
                f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/."
            )
            request.state.validation_failed = True
            return JSONResponse(error_body("invalid_request_error", message), status_code=404)
        return JSONResponse(error_body("api_error", str(error.detail)), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("the Stripe emulator failed on %s %s", request.method, request.url.path)
        return api_error(500, "An unknown error occurred").response()

    for module in (customers, catalog, meters, subscriptions, invoices, invoice_payments, credit_notes, clocks):
        app.include_router(module.router)
    app.add_middleware(StripeGateway, store=store, settings=settings)
    install_faults(app, faults, fault_response)
    return app
