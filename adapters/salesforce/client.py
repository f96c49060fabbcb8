"""The REST client under the adapter: authenticated calls with one re-authentication on 401, exact JSON (numbers
parse to Decimal and Decimals go out as exact numbers, so no float ever touches money), SOQL with
`nextRecordsUrl` paging, and the org's API usage from `Sforce-Limit-Info`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from adapters.errors import TransientAdapterError
from adapters.http_tracing import vendor_http_client
from adapters.salesforce.auth import AccessToken, TokenSource
from adapters.salesforce.errors import error_for, is_invalid_session, transport_error
from adapters.salesforce.settings import SalesforceSettings
from canonical.references import System

logger = logging.getLogger(__name__)
_API_USAGE = re.compile(r"(?:^|[,\s])api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """The org's API requests used today and its daily allowance, from the last response."""

    used: int
    limit: int


class SalesforceRestClient:
    def __init__(self, settings: SalesforceSettings, http: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._owns_http = http is None
        self._http = http or vendor_http_client(settings.timeout_seconds)
        self._tokens = TokenSource(settings, self._http)
        self.last_api_usage: ApiUsage | None = None

    @property
    def data_path(self) -> str:
        return f"/services/data/v{self._settings.api_version}"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self, method: str, path: str, action: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> httpx.Response:
        """A successful (2xx) response to `method path` on the org's instance; classified errors otherwise."""
        token = await self._tokens.current()
        response = await self._send(token, method, path, action, params, body)
        if is_invalid_session(response):
            token = await self._tokens.refresh(token)
            response = await self._send(token, method, path, action, params, body)
        if response.status_code >= 300:
            raise error_for(response, action)
        return response

    async def get_json(self, path: str, action: str, params: Mapping[str, str] | None = None) -> Any:
        return parse_json(await self.request("GET", path, action, params=params), action)

    async def query_all(self, soql: str, action: str) -> list[dict[str, Any]]:
        """Every record the query matches, following `nextRecordsUrl` batch after batch."""
        page = await self.get_json(f"{self.data_path}/query", action, {"q": soql})
        records: list[dict[str, Any]] = list(page["records"])
        while not page.get("done", True):
            page = await self.get_json(str(page["nextRecordsUrl"]), action)
            records.extend(page["records"])
        return records

    async def _send(
        self,
        token: AccessToken,
        method: str,
        path: str,
        action: str,
        params: Mapping[str, str] | None,
        body: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.value}", "Accept": "application/json"}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json_text(body).encode()
        try:
            response = await self._http.request(
                method, token.instance_url + path, params=params, headers=headers, content=content
            )
        except httpx.HTTPError as error:
            raise transport_error(error, action) from error
        self._note_usage(response)
        return response

    def _note_usage(self, response: httpx.Response) -> None:
        info = response.headers.get("sforce-limit-info")
        match = _API_USAGE.search(info or "")
        if match is not None:
            self.last_api_usage = ApiUsage(int(match.group(1)), int(match.group(2)))
            logger.debug("Salesforce API usage: %s", info)


def json_text(value: Any) -> str:
    """JSON with every Decimal written as an exact number, digit for digit (json.dumps refuses Decimal, and
    going through float would change amounts)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent as a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value)


def parse_json(response: httpx.Response, action: str) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as error:
        raise TransientAdapterError(System.CRM, f"{action}: the response is not JSON") from error
