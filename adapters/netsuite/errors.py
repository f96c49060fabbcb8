"""NetSuite's errors → q2c's classified adapter errors, decided here and nowhere else.

| NetSuite                                                     | raised                                        |
|--------------------------------------------------------------|-----------------------------------------------|
| 5xx, timeout, dropped connection                             | TransientAdapterError                         |
| 429 (concurrency governance), or a 400 with a request-limit  | RateLimitedError(Retry-After, else default)   |
|   code (SSS_REQUEST_LIMIT_EXCEEDED, ...)                     |                                               |
| 401/403 (INVALID_LOGIN, after one token refresh)             | PermanentAdapterError(SYSTEM_REJECTED)        |
| 404 (NONEXISTENT_ID)                                         | NotFoundError                                 |
| 400 whose detail says the period is closed                   | NetSuiteRecordError(CLOSED_PERIOD)            |
| 400 naming a field (`o:errorPath`)                           | NetSuiteRecordError(INVALID_DATA), the path   |
| any other 4xx                                                | NetSuiteRecordError(SYSTEM_REJECTED)          |

Unverified: NetSuite documents no error code for a posting into a closed period. The classification keys on the
detail mentioning both "closed" and "period" (the wording NetSuite's UI uses), whatever the code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from adapters.errors import (
    AdapterError,
    NotFoundError,
    PermanentAdapterError,
    RateLimitedError,
    TransientAdapterError,
)
from canonical.problems import ExceptionCategory
from canonical.references import System

ERP = System.ERP
REQUEST_LIMIT_CODES = frozenset(
    {
        "CONCURRENCY_LIMIT_EXCEEDED",
        "SSS_REQUEST_LIMIT_EXCEEDED",
        "WS_CONCUR_SESSION_DISALLOWED",
        "REQUEST_LIMIT_EXCEEDED",
    }
)
_CLOSED = re.compile(r"\bclosed\b", re.IGNORECASE)
_PERIOD = re.compile(r"\bperiods?\b", re.IGNORECASE)


class NetSuiteRecordError(PermanentAdapterError):
    """NetSuite refused a record or a query; `error_path` is the field it named (`o:errorPath`), if any."""

    def __init__(
        self,
        message: str,
        category: ExceptionCategory,
        error_code: str | None = None,
        error_path: str | None = None,
    ) -> None:
        super().__init__(ERP, message, category)
        self.error_code = error_code
        self.error_path = error_path


def _details(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _describe(response: httpx.Response, details: list[dict[str, Any]]) -> str:
    if not details:
        return f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:300]}"
    parts = []
    for detail in details:
        where = f" at {detail['o:errorPath']}" if detail.get("o:errorPath") else ""
        parts.append(f"{detail.get('o:errorCode', 'ERROR')}{where}: {detail.get('detail', '')}")
    return f"HTTP {response.status_code}: " + "; ".join(parts)


def retry_after(response: httpx.Response, default: timedelta) -> timedelta:
    """`Retry-After` as seconds or an HTTP date; `default` when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return default
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(timedelta(0), moment - datetime.now(UTC))


def error_from_response(response: httpx.Response, default_retry_after: timedelta) -> AdapterError:
    status = response.status_code
    details = _details(response)
    message = f"{response.request.method} {response.request.url.path}: {_describe(response, details)}"
    codes = {str(d.get("o:errorCode")) for d in details}
    if status == 429 or (status == 400 and codes & REQUEST_LIMIT_CODES):
        return RateLimitedError(ERP, message, retry_after(response, default_retry_after))
    if status >= 500:
        return TransientAdapterError(ERP, message)
    if status == 404:
        return NotFoundError(ERP, message)
    if status in (401, 403):
        return PermanentAdapterError(ERP, f"authentication refused: {message}")
    first = details[0] if details else {}
    code, path = first.get("o:errorCode"), first.get("o:errorPath")
    if any(_CLOSED.search(str(d.get("detail", ""))) and _PERIOD.search(str(d.get("detail", ""))) for d in details):
        return NetSuiteRecordError(message, ExceptionCategory.CLOSED_PERIOD, code, path)
    category = ExceptionCategory.INVALID_DATA if path else ExceptionCategory.SYSTEM_REJECTED
    return NetSuiteRecordError(message, category, code, path)


def error_from_token_response(response: httpx.Response, default_retry_after: timedelta) -> AdapterError:
    """The OAuth 2.0 token endpoint answers RFC 6749 errors (`{"error", "error_description"}`)."""
    status = response.status_code
    if status == 429:
        return RateLimitedError(ERP, "token request rate-limited", retry_after(response, default_retry_after))
    if status >= 500:
        return TransientAdapterError(ERP, f"token endpoint HTTP {status}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error", "unknown_error") if isinstance(body, dict) else "unknown_error"
    description = body.get("error_description", "") if isinstance(body, dict) else ""
    return PermanentAdapterError(ERP, f"token request refused (HTTP {status}): {error} {description}".strip())


def error_from_transport(error: httpx.HTTPError, what: str) -> TransientAdapterError:
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else f"failed ({type(error).__name__})"
    return TransientAdapterError(ERP, f"{what} {kind}: {error}")
