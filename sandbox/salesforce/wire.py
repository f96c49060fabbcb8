"""Salesforce's wire format: JSON with exact numbers, and errors as an array of `{message, errorCode, fields}`.

Numbers are kept as Decimal from request to response, never as floats. Salesforce serialises number fields the
way Java prints a double (`90.0`, `15000.0`, `0.002`); the emulator prints the same text from the exact decimal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"


class SalesforceApiError(Exception):
    """An error response: HTTP status and the error array Salesforce returns."""

    def __init__(self, status: int, errors: Sequence[Mapping[str, Any]], headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response(self.errors, self.status, self.headers)


def api_error(status: int, code: str, message: str, fields: Iterable[str] = ()) -> SalesforceApiError:
    return SalesforceApiError(status, [{"message": message, "errorCode": code, "fields": list(fields)}])


def not_found(message: str = "The requested resource does not exist") -> SalesforceApiError:
    return SalesforceApiError(404, [{"errorCode": "NOT_FOUND", "message": message}])


def number_text(value: Decimal) -> str:
    """A decimal as Salesforce prints a number field: at least one fractional digit, no exponent, no float."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def dumps(value: Any) -> str:
    """JSON text for `value`, writing Decimals as exact JSON numbers."""
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def loads(body: bytes) -> Any:
    """Parse a request body; JSON numbers with a fraction become Decimal."""
    return json.loads(body, parse_float=Decimal)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body).encode(), status_code=status, headers=dict(headers or {}), media_type=JSON_MEDIA_TYPE)


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object from a request body, or Salesforce's JSON_PARSER_ERROR."""
    try:
        body = loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise api_error(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {error}") from error
    if not isinstance(body, dict):
        raise api_error(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a value that is not an object"
        )
    return body
