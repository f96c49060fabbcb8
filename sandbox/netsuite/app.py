"""The NetSuite emulator app: REST records, SuiteQL, OAuth 2.0 M2M and TBA, concurrency governance, faults, and
the emulator-only admin routes under `/_sandbox` (faults, an access token, closing accounting periods)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox.faults import FaultInjector, install_faults
from sandbox.netsuite.auth import Authenticator, auth_router
from sandbox.netsuite.concurrency import ConcurrencyLimit
from sandbox.netsuite.errors import error_response, fault_response, install_error_handlers
from sandbox.netsuite.period_close import period_close_router
from sandbox.netsuite.query import query_router
from sandbox.netsuite.records import records_router
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.store import DocumentStore


def create_app(store: DocumentStore, faults: FaultInjector, settings: NetSuiteEmulatorSettings) -> FastAPI:
    """`store` must be open. Faults apply inside the concurrency limit, so a slowed request holds its slot."""
    app = FastAPI(title="NetSuite emulator (q2c sandbox)", openapi_url=None, docs_url=None, redoc_url=None)
    authenticator = Authenticator(store, settings)
    app.include_router(auth_router(authenticator, settings))
    app.include_router(records_router(store, settings, authenticator))
    app.include_router(query_router(store, settings, authenticator))
    app.include_router(period_close_router(store))
    install_error_handlers(app)

    install_faults(app, faults, fault_response)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown(path: str, request: Request) -> Response:
        # Registered last so it shadows nothing. Unverified code for an unknown resource path.
        return error_response(404, "NONEXISTENT_ID", f"The resource /{path} does not exist.")

    app.add_middleware(ConcurrencyLimit, limit=settings.concurrency_limit)
    app.state.netsuite_settings = settings
    return app
