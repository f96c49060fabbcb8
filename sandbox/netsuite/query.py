"""`POST /services/rest/query/v1/suiteql?limit=&offset=` with `Prefer: transient` and `{"q": "SELECT ..."}`.

Items carry lower-case column names and `links: []`; NULL columns are left out; numbers are JSON numbers,
dates are written as the account's date format, M/D/YYYY (the US default; *unverified* which one a given
account uses). Invalid queries get 400 INVALID_PARAMETER, "Invalid search query. ..." (*unverified* code).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sandbox.netsuite.auth import Authenticator, base_url
from sandbox.netsuite.books import Books
from sandbox.netsuite.errors import NetSuiteError
from sandbox.netsuite.settings import NetSuiteEmulatorSettings
from sandbox.netsuite.suiteql import SuiteQLSyntaxError, parse
from sandbox.netsuite.suiteql_eval import SuiteQLError, execute
from sandbox.netsuite.tables import table
from sandbox.netsuite.wire import COLLECTION, NetSuiteResponse, WireFormatError, loads
from sandbox.store import DocumentStore

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_LIMIT = 1000


def _invalid_query(reason: str) -> NetSuiteError:
    return NetSuiteError(
        400,
        "INVALID_PARAMETER",
        f"Invalid search query. Detailed unprocessed description follows. Search error occurred: {reason}",
    )


def wire_value(value: Any) -> Any:
    if isinstance(value, date):
        return f"{value.month}/{value.day}/{value.year}"
    return value


def query_router(store: DocumentStore, settings: NetSuiteEmulatorSettings, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(dependencies=[Depends(authenticator.authenticate)])

    @router.post(SUITEQL_PATH)
    async def suiteql(request: Request, limit: int = MAX_LIMIT, offset: int = 0) -> Response:
        if request.headers.get("prefer", "").lower() != "transient":
            # Unverified: NetSuite documents the header as required; the code for its absence is a guess.
            raise NetSuiteError(
                400, "INVALID_HEADER", "The header 'Prefer: transient' is required for SuiteQL queries."
            )
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise NetSuiteError(
                400, "INVALID_PARAMETER", f"The limit must be between 1 and {MAX_LIMIT}; the offset at least 0."
            )
        try:
            body = loads(await request.body())
        except WireFormatError as error:
            raise NetSuiteError(400, "INVALID_CONTENT", str(error)) from error
        if not isinstance(body, dict) or not isinstance(body.get("q"), str):
            raise NetSuiteError(400, "INVALID_CONTENT", 'The body must be {"q": "<SuiteQL query>"}.', "q")
        try:
            query = parse(body["q"])
        except SuiteQLSyntaxError as error:
            raise _invalid_query(f"Invalid or unsupported search: {error}.") from error
        async with store.transaction() as tx:
            try:
                columns, rows = await table(Books(tx), query.table, settings.customer_custom_fields)
            except KeyError as error:
                raise _invalid_query(f"Record '{query.table}' was not found.") from error
        try:
            results = execute(query, columns, rows)
        except SuiteQLError as error:
            raise _invalid_query(str(error)) from error
        page = results[offset : offset + limit]
        url = f"{base_url(request, settings)}{SUITEQL_PATH}"
        links = [{"rel": "self", "href": f"{url}?limit={limit}&offset={offset}"}]
        has_more = offset + limit < len(results)
        if has_more:
            links.append({"rel": "next", "href": f"{url}?limit={limit}&offset={offset + limit}"})
        items = [{"links": [], **{k: wire_value(v) for k, v in row.items() if v is not None}} for row in page]
        return NetSuiteResponse(
            {
                "links": links,
                "count": len(page),
                "hasMore": has_more,
                "items": items,
                "offset": offset,
                "totalResults": len(results),
            },
            media_type=COLLECTION,
        )

    return router
