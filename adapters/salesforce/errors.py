"""Salesforce's errors, classified once, here.

REST errors are a JSON array `[{"message", "errorCode", "fields"}]`; the token endpoint answers
`{"error", "error_description"}`.

- 401 INVALID_SESSION_ID: the client re-authenticates once; a second 401 is PermanentAdapterError.
- 403 REQUEST_LIMIT_EXCEEDED: RateLimitedError. Salesforce sends no Retry-After, so the delay is a default:
  `DAILY_LIMIT_RETRY_AFTER` when the org's daily request allowance (a rolling 24 hours) is used up ("TotalRequests
  Limit exceeded"), else `CONCURRENCY_RETRY_AFTER` (too many long-running requests at once). A Retry-After that
  a proxy adds is honoured.
- 404 NOT_FOUND / ENTITY_IS_DELETED: NotFoundError.
- 400 (INVALID_FIELD, STRING_TOO_LONG, REQUIRED_FIELD_MISSING, ...): PermanentAdapterError naming the fields.
- 300: an external ID matched several records: PermanentAdapterError (duplicate detected).
- 5xx, timeouts and broken connections: TransientAdapterError.
"""

from __future__ import annotations

import json
from datetime import timedelta
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

CONCURRENCY_RETRY_AFTER = timedelta(seconds=30)
DAILY_LIMIT_RETRY_AFTER = timedelta(minutes=15)
INVALID_SESSION = "INVALID_SESSION_ID"
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    if isinstance(body, dict):
        body = [body]
    return [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []


def is_invalid_session(response: httpx.Response) -> bool:
    return response.status_code == 401 and any(e.get("errorCode") == INVALID_SESSION for e in _errors(response))


def _describe(errors: list[dict[str, Any]], response: httpx.Response) -> str:
    if not errors:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return "; ".join(f"{e.get('errorCode', '?')}: {str(e.get('message', '')).strip()}" for e in errors)


def _retry_after(response: httpx.Response, errors: list[dict[str, Any]]) -> timedelta:
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        return timedelta(seconds=int(header))
    daily = any("TotalRequests" in str(e.get("message", "")) for e in errors)
    return DAILY_LIMIT_RETRY_AFTER if daily else CONCURRENCY_RETRY_AFTER


def error_for(response: httpx.Response, action: str) -> AdapterError:
    """The classified error for a REST response that failed (status 300 or above)."""
    status, errors = response.status_code, _errors(response)
    codes = {str(e.get("errorCode")) for e in errors}
    detail = f"{action}: {_describe(errors, response)}"
    if status == 429 or (status == 403 and LIMIT_EXCEEDED in codes):
        return RateLimitedError(System.CRM, detail, _retry_after(response, errors))
    if status >= 500:
        return TransientAdapterError(System.CRM, detail)
    if status == 404:
        return NotFoundError(System.CRM, detail)
    if status == 401:  # the client has already fetched a new token once
        return PermanentAdapterError(System.CRM, f"{action}: Salesforce refused q2c's session ({detail})")
    if status == 300:
        return PermanentAdapterError(
            System.CRM, f"{action}: several records match", ExceptionCategory.DUPLICATE_DETECTED
        )
    fields = sorted({str(f) for e in errors for f in e.get("fields") or ()})
    if fields:
        detail += f" (fields: {', '.join(fields)})"
    return PermanentAdapterError(System.CRM, detail)


def token_error(response: httpx.Response) -> AdapterError:
    """The classified error for a refused token request."""
    if response.status_code >= 500:
        return TransientAdapterError(System.CRM, f"token endpoint: HTTP {response.status_code}")
    if response.status_code == 429:
        return RateLimitedError(System.CRM, "token endpoint: rate limited", _retry_after(response, []))
    try:
        body = json.loads(response.content)
        reason = f"{body['error']}: {body.get('error_description', '')}"
    except (ValueError, KeyError, TypeError):
        reason = f"HTTP {response.status_code}"
    return PermanentAdapterError(System.CRM, f"Salesforce refused to authenticate q2c ({reason})")


def transport_error(error: httpx.HTTPError, action: str) -> TransientAdapterError:
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
    return TransientAdapterError(System.CRM, f"{action}: {kind} ({type(error).__name__}: {error})")
