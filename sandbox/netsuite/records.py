"""`/services/rest/record/v1/{type}`: create (POST), read (GET by ID or `eid:`), update (PATCH), upsert (PUT `eid:`),
and list (GET with `limit` ≤ 1000 and `offset`), with NetSuite's status codes and `Location` headers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sandbox.netsuite import ledger
from sandbox.netsuite.auth import Authenticator, base_url
from sandbox.netsuite.books import Books
from sandbox.netsuite.errors import NetSuiteError, invalid_content, not_found
from sandbox.netsuite.recordtypes import (
    Document,
    RecordType,
    check_required,
    normalize,
    present,
    record_type,
    record_url,
)
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.netsuite.wire import COLLECTION, NetSuiteResponse, WireFormatError, loads
from sandbox.store import DocumentStore

RECORD_PREFIX = "/services/rest/record/v1"
MAX_LIMIT = 1000


def records_router(store: DocumentStore, settings: NetSuiteEmulatorSettings, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix=RECORD_PREFIX, dependencies=[Depends(authenticator.authenticate)])

    async def body_of(request: Request, rt: RecordType) -> Document:
        try:
            body = loads(await request.body())
        except WireFormatError as error:
            raise invalid_content(str(error), "") from error
        return normalize(rt, body, settings.customer_custom_fields)

    async def find(books: Books, rt: RecordType, key: str) -> Document | None:
        if key.startswith("eid:"):
            return await books.by_external_id(rt, key.removeprefix("eid:"))
        return await books.get(rt, key)

    async def save(books: Books, rt: RecordType, fields: Document, previous: Document | None) -> Document:
        if previous is None:
            doc: Document = {"_type": rt.name, "id": await books.next_id(rt), **fields}
        else:
            doc = {**previous, **fields}
            if previous.get("_periodDerived") and "postingPeriod" not in fields:
                doc.pop("postingPeriod", None)
        check_required(rt, doc)
        await ledger.prepare(books, rt, doc, previous)
        await books.put(rt, doc)
        return doc

    def saved(request: Request, rt: RecordType, doc: Document) -> Response:
        return Response(
            status_code=204, headers={"Location": record_url(base_url(request, settings), rt.name, doc["id"])}
        )

    @router.post("/{type_name}")
    async def create(type_name: str, request: Request) -> Response:
        rt = record_type(type_name)
        fields = await body_of(request, rt)
        async with store.transaction() as tx:
            books = Books(tx)
            external_id = fields.get("externalId")
            if external_id and await books.by_external_id(rt, external_id) is not None:
                # Unverified code and wording for a duplicate external ID.
                raise NetSuiteError(
                    400, "USER_ERROR", "Error while accessing a resource. This record already exists.", "externalId"
                )
            doc = await save(books, rt, fields, None)
        return saved(request, rt, doc)

    @router.get("/{type_name}")
    async def list_records(type_name: str, request: Request, limit: int = MAX_LIMIT, offset: int = 0) -> Response:
        rt = record_type(type_name)
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            # Unverified code.
            raise NetSuiteError(
                400, "INVALID_PARAMETER", f"The limit must be between 1 and {MAX_LIMIT}; the offset at least 0."
            )
        async with store.transaction() as tx:
            docs = await Books(tx).all(rt)
        base = base_url(request, settings)
        page = docs[offset : offset + limit]
        url = f"{base}{RECORD_PREFIX}/{rt.name}"
        links = [{"rel": "self", "href": f"{url}?limit={limit}&offset={offset}"}]
        if offset + limit < len(docs):
            links.append({"rel": "next", "href": f"{url}?limit={limit}&offset={offset + limit}"})
        body: dict[str, Any] = {
            "links": links,
            "count": len(page),
            "hasMore": offset + limit < len(docs),
            "items": [
                {"links": [{"rel": "self", "href": record_url(base, rt.name, d["id"])}], "id": d["id"]} for d in page
            ],
            "offset": offset,
            "totalResults": len(docs),
        }
        return NetSuiteResponse(body, media_type=COLLECTION)

    @router.get("/{type_name}/{key}")
    async def read(type_name: str, key: str, request: Request, expandSubResources: bool = False) -> Response:
        rt = record_type(type_name)
        async with store.transaction() as tx:
            books = Books(tx)
            doc = await find(books, rt, key)
            if doc is None:
                raise not_found()
            doc = {**doc, **await ledger.computed(books, rt, doc)}
        return NetSuiteResponse(present(rt, doc, base_url(request, settings), expandSubResources))

    @router.patch("/{type_name}/{key}")
    async def update(type_name: str, key: str, request: Request) -> Response:
        rt = record_type(type_name)
        fields = await body_of(request, rt)
        async with store.transaction() as tx:
            books = Books(tx)
            previous = await find(books, rt, key)
            if previous is None:
                raise not_found()
            if "externalId" in fields and fields["externalId"] != previous.get("externalId"):
                other = await books.by_external_id(rt, fields["externalId"])
                if other is not None:
                    raise NetSuiteError(
                        400, "USER_ERROR", "Error while accessing a resource. This record already exists.", "externalId"
                    )
            doc = await save(books, rt, fields, previous)
        return saved(request, rt, doc)

    @router.put("/{type_name}/{key}")
    async def upsert(type_name: str, key: str, request: Request) -> Response:
        rt = record_type(type_name)
        if not key.startswith("eid:") or key == "eid:":
            # Unverified code: PUT is only the upsert by external ID.
            raise NetSuiteError(400, "INVALID_REQUEST", "Upsert needs an external ID in the URL: .../eid:{externalId}.")
        external_id = key.removeprefix("eid:")
        fields = await body_of(request, rt)
        if fields.get("externalId", external_id) != external_id:
            raise invalid_content("The externalId in the body differs from the one in the URL.", "externalId")
        fields["externalId"] = external_id
        async with store.transaction() as tx:
            books = Books(tx)
            doc = await save(books, rt, fields, await books.by_external_id(rt, external_id))
        return saved(request, rt, doc)

    return router
