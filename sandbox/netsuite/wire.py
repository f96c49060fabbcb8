"""JSON as NetSuite speaks it: money as JSON numbers on the wire, exact Decimals inside the emulator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from starlette.responses import Response

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
ERROR = "application/vnd.oracle.resource+json; type=error"


class WireFormatError(ValueError):
    pass


def loads(raw: bytes | str) -> Any:
    """Parse a request body; fractional numbers become Decimal, never float."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise WireFormatError(f"the request body is not valid JSON: {error}") from error


def dumps(value: Any) -> str:
    """Serialise with Decimal written as a JSON number, digit for digit."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return format(value, "f")
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot serialise {type(value).__name__}")


class NetSuiteResponse(Response):
    media_type = SINGULAR

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
