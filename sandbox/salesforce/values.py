"""Field values: checking what a client sends against the field's type and size, and reading stored values back.

Stored documents keep text, IDs, dates and booleans as JSON values and numbers as decimal strings; `typed` turns
them back into Python values (Decimal for numbers) and computes formula fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from sandbox.salesforce import ids
from sandbox.salesforce.schema import Field, FieldType

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _error(code: str, message: str, field: Field | None = None) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "fields": [field.name] if field else []}


def _parser_error(field: Field, value: Any) -> dict[str, Any]:
    kind = {FieldType.REFERENCE: "id", FieldType.PICKLIST: "string", FieldType.EMAIL: "string"}.get(
        field.type, field.type.value
    )
    return _error(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from value {value!r} or request may be missing a required field",
    )


def stored(field: Field, value: Any) -> tuple[Any, dict[str, Any] | None]:
    """The value to store for `field`, or the error Salesforce returns for it."""
    if value is None:
        return None, None
    kind = field.type
    if kind.is_text or kind in {FieldType.REFERENCE, FieldType.ID}:
        if not isinstance(value, str):
            return None, _parser_error(field, value)
        if value == "":
            return None, None  # Salesforce stores an empty string as null
        if kind in {FieldType.REFERENCE, FieldType.ID}:
            return _reference(field, value)
        if len(value) > field.length:
            return None, _error(
                "STRING_TOO_LONG",
                f"{field.name}: data value too large: {value[:40]}... (max length={field.length})",
                field,
            )
        if kind is FieldType.EMAIL and not _EMAIL.fullmatch(value):
            return None, _error("INVALID_EMAIL_ADDRESS", f"{field.name}: invalid email address: {value}", field)
        return value, None
    if kind is FieldType.BOOLEAN:
        return (value, None) if isinstance(value, bool) else (None, _parser_error(field, value))
    if kind is FieldType.DATE:
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                return date.fromisoformat(value).isoformat(), None
            except ValueError:
                pass
        return None, _parser_error(field, value)
    if kind.is_number:
        return _number(field, value)
    if kind is FieldType.DATETIME:
        moment = _moment(value)
        return (moment, None) if moment is not None else (None, _parser_error(field, value))
    return None, _parser_error(field, value)


def _moment(value: Any) -> str | None:
    """An ISO 8601 datetime as Salesforce stores and returns it (`2027-07-15T00:00:00.000+0000`), in UTC.
    Without an offset it is read as UTC (*unverified*: what a real org does with a datetime sent without one)."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "+0000"


def _reference(field: Field, value: str) -> tuple[Any, dict[str, Any] | None]:
    normalized = ids.normalize(value)
    if normalized is None:
        return None, _error("MALFORMED_ID", f"{field.name}: id value of incorrect type: {value}", field)
    return normalized, None


def wrong_reference_type(field: Field, value: str) -> dict[str, Any]:
    return _error("FIELD_INTEGRITY_EXCEPTION", f"{field.name}: id value of incorrect type: {value}", field)


def missing_reference(field: Field, value: str) -> dict[str, Any]:
    return _error("INVALID_CROSS_REFERENCE_KEY", f"{field.name}: invalid cross reference id {value}", field)


def _number(field: Field, value: Any) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None, _parser_error(field, value)
    out_of_range = _error(
        "NUMBER_OUTSIDE_VALID_RANGE", f"{field.name}: value outside of valid range on numeric field: {value}", field
    )
    try:
        # Salesforce rounds extra decimal places to the field's scale (half up); *unverified* for every field type.
        with localcontext() as context:
            context.prec = 60
            number = Decimal(value).quantize(Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None, out_of_range
    integer_digits = len(str(abs(number).to_integral_value(rounding=ROUND_DOWN))) if abs(number) >= 1 else 0
    if integer_digits > field.precision - field.scale:
        return None, out_of_range
    return str(number), None


def typed(field: Field, record: Mapping[str, Any]) -> Any:
    """The field's value as the API returns it: Decimal for numbers, a computed value for formula fields."""
    if field.formula is not None:
        return field.formula(record)
    value = record.get(field.name)
    if value is not None and field.type.is_number:
        return Decimal(value)
    return value
