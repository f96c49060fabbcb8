"""JSON on NetSuite's wire: money is a JSON number, read and written here as Decimal, never float."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def dumps(value: Any) -> str:
    """JSON with Decimal written as a number, digit for digit (json.dumps would refuse it or go through float)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent as a JSON number")
        return format(value, "f")
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def suiteql_string(value: str) -> str:
    """A SuiteQL string literal: quotes doubled, so a value can never end the literal early."""
    return "'" + value.replace("'", "''") + "'"


def decimal_of(value: Any) -> Decimal:
    """A number from a record or a SuiteQL row (a JSON number, or text in some SuiteQL answers)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def date_of(value: str) -> date:
    """A date from a record (ISO) or a SuiteQL row (the account's format; M/D/YYYY and ISO are understood)."""
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date in a format this adapter reads (YYYY-MM-DD, M/D/YYYY)")
