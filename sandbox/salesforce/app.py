"""The emulated Salesforce org as a FastAPI app: OAuth, sObject REST, SOQL query, Outbound Messages, admin routes.

REST calls are `/services/data/vNN.0/...` for any version up to the configured one. Admin routes under
`/_sandbox` (never faulted, never authenticated) show the outbound message queue, set the API usage, and let the
seed reserve the demo's record IDs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.faults import FaultInjector, FaultRule, install_faults
from sandbox.salesforce import ids
from sandbox.salesforce.auth import Sessions, base_url, oauth_router
from sandbox.salesforce.limits import ApiUsage, LimitInfoMiddleware
from sandbox.salesforce.outbound import OutboundMessages
from sandbox.salesforce.query import QueryService
from sandbox.salesforce.records import Records, multiple_choices
from sandbox.salesforce.schema import Schema
from sandbox.salesforce.settings import SalesforceEmulatorSettings
from sandbox.salesforce.wire import SalesforceApiError, json_response, not_found, parse_body
from sandbox.store import DocumentStore

_VERSION = re.compile(r"v(\d+)\.0")
_OLDEST_VERSION = 20
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


@dataclass(frozen=True)
class Call:
    """An authenticated, counted REST call."""

    user_id: str
    version: str


class Org:
    """The emulator's parts, shared by the routes."""

    def __init__(self, store: DocumentStore, faults: FaultInjector, settings: SalesforceEmulatorSettings) -> None:
        self.store = store
        self.settings = settings
        self.records = Records(Schema(absent=settings.absent_fields))
        self.queries = QueryService(self.records, settings.query_batch_size)
        self.sessions = Sessions(store, self.records, settings)
        self.usage = ApiUsage(store, settings.daily_api_limit)
        self.outbound = OutboundMessages(store, faults, settings)
        self.records.triggers.append(self.outbound.on_save)

    async def call(self, request: Request, version: str) -> Call:
        match = _VERSION.fullmatch(version)
        newest = int(self.settings.api_version.split(".")[0])
        if match is None or not _OLDEST_VERSION <= int(match.group(1)) <= newest:
            raise not_found()
        user_id = await self.sessions.user_id(request)
        await self.usage.count()
        self.outbound.instance_url = base_url(request)
        return Call(user_id, version.removeprefix("v"))

    async def ensure_run_as_user(self) -> None:
        username = self.settings.run_as_username
        user_type = self.records.sobject("User")
        async with self.store.transaction() as tx:
            users = await self.records.live(tx, user_type)
            if any(u.get("Username", "").casefold() == username.casefold() for u in users):
                return
            taken = await tx.get("sobject/User", ids.generated("005", 0)) is not None
            user_id = await self.records.next_id(tx, user_type) if taken else ids.generated("005", 0)
            email = username if "@" in username else f"{username}@example.invalid"
            body = {"Username": username, "FirstName": "q2c", "LastName": "Integration", "Email": email}
            await self.records.create(tx, user_type, body, user_id, user_id)


class _TrailingSlashes:
    """Salesforce serves `/services/data/v61.0/sobjects/Account/` like `.../Account` (clients send both)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith("/services/") and path.endswith("/") and len(path) > 1:
            scope = {**scope, "path": path.rstrip("/")}
        await self._app(scope, receive, send)


def _fault_response(rule: FaultRule) -> Response:
    """Salesforce's own error bodies for injected faults. Salesforce sends no Retry-After on limit errors."""
    if rule.kind == "rate_limit":
        body = [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        return json_response(body, 403)
    if rule.status == 401:
        return json_response([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401)
    if rule.status == 503:
        body = [{"message": "Server is temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
        return json_response(body, 503)
    message = "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345"
    return json_response([{"message": message, "errorCode": "UNKNOWN_EXCEPTION"}], rule.status)


def create_app(store: DocumentStore, faults: FaultInjector, settings: SalesforceEmulatorSettings) -> FastAPI:
    org = Org(store, faults, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.open()
        await org.ensure_run_as_user()
        await org.usage.load()
        delivery = asyncio.create_task(org.outbound.run(), name="salesforce-outbound-messages")
        try:
            yield
        finally:
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery

    app = FastAPI(title="Salesforce emulator", lifespan=lifespan)
    app.state.org = org

    @app.exception_handler(SalesforceApiError)
    async def salesforce_error(_: Request, error: SalesforceApiError) -> Response:
        return error.response()

    app.include_router(oauth_router(org.sessions))
    app.include_router(_rest_router(org))
    app.include_router(_admin_router(org))
    app.add_middleware(LimitInfoMiddleware, usage=org.usage)
    install_faults(app, faults, _fault_response)
    app.add_middleware(_TrailingSlashes)
    return app


def _rest_router(org: Org) -> APIRouter:
    router = APIRouter(prefix="/services/data")
    records = org.records

    @router.get("")
    async def versions(request: Request) -> Response:
        newest = int(org.settings.api_version.split(".")[0])
        return json_response(
            [
                {"label": f"API {n}.0", "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
                for n in range(_OLDEST_VERSION, newest + 1)
            ]
        )

    @router.get("/{version}/limits")
    async def limits(request: Request, version: str) -> Response:
        await org.call(request, version)
        usage = org.usage
        return json_response({"DailyApiRequests": {"Max": usage.limit, "Remaining": max(usage.limit - usage.used, 0)}})

    @router.post("/{version}/sobjects/{sobject}")
    async def create(request: Request, version: str, sobject: str) -> Response:
        call = await org.call(request, version)
        body = parse_body(await request.body())
        async with org.store.transaction() as tx:
            saved = await records.create(tx, records.sobject(sobject), body, call.user_id)
        return json_response({"id": saved.after["Id"], "success": True, "errors": []}, 201)

    @router.get("/{version}/sobjects/{sobject}/{record_id}")
    async def read(request: Request, version: str, sobject: str, record_id: str) -> Response:
        call = await org.call(request, version)
        sobject_type = records.sobject(sobject)
        async with org.store.transaction() as tx:
            record = await records.get(tx, sobject_type, record_id)
        return json_response(records.render(sobject_type, record, call.version))

    @router.patch("/{version}/sobjects/{sobject}/{record_id}")
    async def update(request: Request, version: str, sobject: str, record_id: str) -> Response:
        call = await org.call(request, version)
        body = parse_body(await request.body())
        async with org.store.transaction() as tx:
            await records.update(tx, records.sobject(sobject), record_id, body, call.user_id)
        return Response(status_code=204)

    @router.delete("/{version}/sobjects/{sobject}/{record_id}")
    async def delete(request: Request, version: str, sobject: str, record_id: str) -> Response:
        await org.call(request, version)
        async with org.store.transaction() as tx:
            await records.delete(tx, records.sobject(sobject), record_id)
        return Response(status_code=204)

    @router.get("/{version}/sobjects/{sobject}/{field}/{value}")
    async def read_by_external_id(request: Request, version: str, sobject: str, field: str, value: str) -> Response:
        call = await org.call(request, version)
        sobject_type = records.sobject(sobject)
        async with org.store.transaction() as tx:
            matches = await records.find_by(tx, sobject_type, field, value)
        if not matches:
            raise not_found()
        if len(matches) > 1:
            raise multiple_choices(sobject_type, matches, call.version)
        return json_response(records.render(sobject_type, matches[0], call.version))

    @router.patch("/{version}/sobjects/{sobject}/{field}/{value}")
    async def upsert(request: Request, version: str, sobject: str, field: str, value: str) -> Response:
        call = await org.call(request, version)
        body = parse_body(await request.body())
        async with org.store.transaction() as tx:
            saved = await records.upsert(tx, records.sobject(sobject), field, value, body, call.user_id, call.version)
        result = {"id": saved.after["Id"], "success": True, "errors": [], "created": saved.created}
        return json_response(result, 201 if saved.created else 200)

    @router.get("/{version}/query")
    async def query(request: Request, version: str) -> Response:
        call = await org.call(request, version)
        batch_size = _requested_batch_size(request)
        async with org.store.transaction() as tx:
            page = await org.queries.run(tx, request.query_params.get("q", ""), call.version, batch_size)
        return json_response(page)

    @router.get("/{version}/query/{locator}")
    async def query_more(request: Request, version: str, locator: str) -> Response:
        call = await org.call(request, version)
        async with org.store.transaction() as tx:
            page = await org.queries.more(tx, locator, call.version)
        return json_response(page)

    @router.api_route("/{rest:path}", methods=_ALL_METHODS)
    async def unknown(rest: str) -> Response:
        raise not_found()

    return router


def _requested_batch_size(request: Request) -> int | None:
    """`Sforce-Query-Options: batchSize=N` asks for 200 to 2000 records a batch."""
    match = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
    return None if match is None else max(200, min(2000, int(match.group(1))))


class _Reservation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str


class _ApiUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    used: int | None = None
    limit: int | None = None


def _admin_router(org: Org) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/outbound-messages")
    async def outbound_messages(status: str | None = None) -> Response:
        return JSONResponse({"messages": await org.outbound.listing(status)})

    @router.post("/outbound-messages/deliver")
    async def deliver_now(all: bool = False) -> Response:
        """Deliver due notifications now; `?all=true` also those still waiting out their back-off."""
        return JSONResponse({"acknowledged": await org.outbound.deliver_due(everything=all)})

    @router.put("/id-reservations/{sobject}/{external_id}")
    async def reserve_id(sobject: str, external_id: str, reservation: _Reservation) -> Response:
        sobject_type = org.records.sobject(sobject)
        async with org.store.transaction() as tx:
            record_id = await org.records.reserve_id(tx, sobject_type, external_id, reservation.id)
        return JSONResponse({"sobject": sobject_type.name, "external_id": external_id, "id": record_id})

    @router.delete("/sessions")
    async def expire_sessions() -> Response:
        return JSONResponse({"expired": await org.sessions.expire_all()})

    @router.get("/api-usage")
    async def read_usage() -> Response:
        return JSONResponse({"used": org.usage.used, "limit": org.usage.limit})

    @router.put("/api-usage")
    async def set_usage(usage: _ApiUsage) -> Response:
        await org.usage.set(usage.used, usage.limit)
        return JSONResponse({"used": org.usage.used, "limit": org.usage.limit})

    return router
