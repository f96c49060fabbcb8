"""NetSuite REST over httpx: authenticated requests, one retry after a 401, classified errors, Decimal JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx

from adapters.errors import PermanentAdapterError
from adapters.http_tracing import vendor_http_client
from adapters.netsuite.auth import Credentials, credentials_for
from adapters.netsuite.errors import ERP, error_from_response, error_from_transport
from adapters.netsuite.settings import NetSuiteSettings
from adapters.netsuite.wire import dumps, loads

RECORD = "/record/v1"
SUITEQL = "/query/v1/suiteql"
PAGE_SIZE = 1000


def record_key(internal_id: str | None = None, external_id: str | None = None) -> str:
    """The path segment of a record: its internal ID, or `eid:` and its external ID (URL-encoded)."""
    if external_id is not None:
        return "eid:" + quote(external_id, safe="")
    assert internal_id is not None
    return quote(internal_id, safe="")


class NetSuiteClient:
    def __init__(self, settings: NetSuiteSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or vendor_http_client(settings.timeout_seconds)
        self._owns_http = http is None
        self.credentials: Credentials = credentials_for(settings, self._http)
        self._default_retry_after = timedelta(seconds=settings.default_retry_after_seconds)
        self.page_size = PAGE_SIZE

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = self.settings.rest_url + path
        content = None if body is None else dumps(body).encode("utf-8")
        for attempt in (1, 2):
            request = self._http.build_request(
                method,
                url,
                params=params,
                content=content,
                headers={
                    "Accept": "application/json",
                    **({"Content-Type": "application/json"} if content else {}),
                    **(headers or {}),
                },
            )
            await self.credentials.authorize(request)
            try:
                response = await self._http.send(request)
            except httpx.HTTPError as error:
                raise error_from_transport(error, f"{method} {path}") from error
            if response.status_code == 401 and attempt == 1 and self.credentials.invalidate():
                continue
            if response.is_success:
                return response
            raise error_from_response(response, self._default_retry_after)
        raise AssertionError("unreachable")

    async def get_record(self, record_type: str, key: str, expand: bool = False) -> dict[str, Any]:
        params = {"expandSubResources": "true"} if expand else None
        response = await self.request("GET", f"{RECORD}/{record_type}/{key}", params=params)
        record: dict[str, Any] = loads(response.content)
        return record

    async def upsert(
        self, record_type: str, external_id: str, body: Mapping[str, Any], params: Mapping[str, str] | None = None
    ) -> str:
        """PUT .../eid:{external_id}: create or update; the internal ID comes from the `Location` header."""
        response = await self.request(
            "PUT", f"{RECORD}/{record_type}/{record_key(external_id=external_id)}", body=body, params=params
        )
        return self._location_id(response)

    async def create(self, record_type: str, body: Mapping[str, Any]) -> str:
        return self._location_id(await self.request("POST", f"{RECORD}/{record_type}", body=body))

    async def update(self, record_type: str, internal_id: str, body: Mapping[str, Any]) -> None:
        await self.request("PATCH", f"{RECORD}/{record_type}/{record_key(internal_id)}", body=body)

    async def suiteql(self, query: str) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, page by page (at most 1000 a page)."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = await self.request(
                "POST",
                SUITEQL,
                body={"q": query},
                params={"limit": self.page_size, "offset": offset},
                headers={"Prefer": "transient"},
            )
            page = loads(response.content)
            items = page.get("items", [])
            rows.extend({k: v for k, v in item.items() if k != "links"} for item in items)
            if not page.get("hasMore") or not items:
                return rows
            offset += len(items)

    @staticmethod
    def _location_id(response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise PermanentAdapterError(
                ERP, f"{response.request.method} {response.request.url.path}: no Location header"
            )
        return str(location).rstrip("/").rsplit("/", 1)[-1]
