"""Parameter schemas: what each endpoint accepts, coerced from form strings, errors naming the parameter.

Stripe refuses unknown parameters (`Received unknown parameter: foo`), missing required ones, and values of the
wrong type (`Invalid integer: abc`), always naming the parameter in bracket form (`items[0][quantity]`). An
empty string unsets an optional field: it coerces to None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.stripe.errors import invalid, missing_param, unknown_param
from sandbox.stripe.forms import param_name

Path = tuple[str | int, ...]


class Schema(ABC):
    """How one request parameter is read from Stripe's form encoding."""

    @abstractmethod
    def coerce(self, value: Any, path: Path) -> Any: ...


def _scalar(value: Any, path: Path) -> str:
    if not isinstance(value, str):
        raise invalid(f"Invalid value for {param_name(path)}: expected a scalar value", param_name(path))
    return value


@dataclass(frozen=True)
class Str(Schema):
    max_length: int = 5000

    def coerce(self, value: Any, path: Path) -> str | None:
        text = _scalar(value, path)
        if text == "":
            return None
        if len(text) > self.max_length:
            raise invalid(
                f"Invalid string: {text[:20]}...; must be at most {self.max_length} characters",
                param_name(path),
                "string_length_exceeds_maximum",
            )
        return text


@dataclass(frozen=True)
class Int(Schema):
    minimum: int | None = None

    def coerce(self, value: Any, path: Path) -> int | None:
        text = _scalar(value, path)
        if text == "":
            return None
        try:
            number = int(text)
        except ValueError:
            raise invalid(f"Invalid integer: {text}", param_name(path), "parameter_invalid_integer") from None
        if self.minimum is not None and number < self.minimum:
            raise invalid(
                f"Invalid {param_name(path)}: must be greater than or equal to {self.minimum}", param_name(path)
            )
        return number


@dataclass(frozen=True)
class Bool(Schema):
    def coerce(self, value: Any, path: Path) -> bool | None:
        text = _scalar(value, path)
        if text == "":
            return None
        if text not in ("true", "false"):
            raise invalid(f"Invalid boolean: {text}", param_name(path))
        return text == "true"


@dataclass(frozen=True)
class Dec(Schema):
    def coerce(self, value: Any, path: Path) -> Decimal | None:
        text = _scalar(value, path)
        if text == "":
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise invalid(f"Invalid decimal: {text}", param_name(path)) from None
        if not number.is_finite():
            raise invalid(f"Invalid decimal: {text}", param_name(path))
        return number


@dataclass(frozen=True)
class Enum(Schema):
    values: tuple[str, ...]

    def coerce(self, value: Any, path: Path) -> str | None:
        text = _scalar(value, path)
        if text == "":
            return None
        if text not in self.values:
            choices = (
                ", ".join(self.values[:-1]) + f", or {self.values[-1]}" if len(self.values) > 1 else self.values[0]
            )
            raise invalid(f"Invalid {path[-1]}: must be one of {choices}", param_name(path))
        return text


@dataclass(frozen=True)
class IntOr(Schema):
    """An integer or one of a few words: `up_to=inf`, `trial_end=now`."""

    words: tuple[str, ...]

    def coerce(self, value: Any, path: Path) -> int | str | None:
        text = _scalar(value, path)
        if text in self.words:
            return text
        return Int().coerce(text, path)


@dataclass(frozen=True)
class Metadata(Schema):
    def coerce(self, value: Any, path: Path) -> dict[str, str] | None:
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid("Invalid metadata: must be an object", param_name(path))
        if len(value) > 50:
            raise invalid("Invalid metadata: can have at most 50 keys", param_name(path))
        result: dict[str, str] = {}
        for key, item in value.items():
            text = _scalar(item, (*path, key))
            if len(key) > 40:
                raise invalid(
                    f"Invalid metadata key: {key[:20]}...; keys can be at most 40 characters", param_name(path)
                )
            if len(text) > 500:
                raise invalid("Invalid metadata value: values can be at most 500 characters", param_name((*path, key)))
            result[key] = text
        return result


@dataclass(frozen=True)
class Arr(Schema):
    item: Schema

    def coerce(self, value: Any, path: Path) -> list[Any] | None:
        if value == "":
            return None
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise invalid(
                f"Invalid array: {param_name(path)} must be an array, e.g. {param_name(path)}[0]=...", param_name(path)
            )
        return [self.item.coerce(value[k], (*path, int(k))) for k in sorted(value, key=int)]


@dataclass(frozen=True)
class Obj(Schema):
    fields: Mapping[str, Schema]
    required: tuple[str, ...] = ()
    extra: bool = field(default=False)

    def coerce(self, value: Any, path: Path) -> dict[str, Any] | None:
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {param_name(path)} must be an object", param_name(path))
        return self.validate(value, path)

    def validate(self, value: Mapping[str, Any], path: Path = ()) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in value.items():
            schema = self.fields.get(key)
            if schema is None:
                if self.extra:
                    result[key] = item
                    continue
                raise unknown_param(param_name((*path, key)))
            result[key] = schema.coerce(item, (*path, key))
        for key in self.required:
            if result.get(key) is None:
                raise missing_param(param_name((*path, key)))
        return result


EXPAND = Arr(Str())
PAGE = {"limit": Int(minimum=1), "starting_after": Str(), "ending_before": Str(), "expand": EXPAND}
RANGE = Obj({"gt": Int(), "gte": Int(), "lt": Int(), "lte": Int()})


def page_schema(**fields: Schema) -> Obj:
    return Obj({**PAGE, "created": _IntOrRange(), **fields})


@dataclass(frozen=True)
class _IntOrRange(Schema):
    """`created=123` or `created[gte]=123`."""

    def coerce(self, value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return RANGE.coerce(value, path)
        number = Int().coerce(value, path)
        return None if number is None else {"gte": number, "lte": number}


SEARCH = Obj({"query": Str(10000), "limit": Int(minimum=1), "page": Str(), "expand": EXPAND}, required=("query",))
