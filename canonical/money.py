"""An immutable amount of money in one ISO 4217 currency.

In the spirit of beancount's core ``Amount``: the amount is a ``Decimal`` and never a float, so that
what was quoted is what gets invoiced and recognised, to the last minor unit.

Arithmetic is exact. Rounding to the currency's minor unit happens only where a caller asks for it
(``rounded``), because where to round (per line, per invoice, per schedule period) is a business
decision that this value type must not take silently. Splitting an amount (``allocate``) is the one
operation that produces minor-unit parts itself, and it guarantees they add back up to the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from functools import cache
from math import lcm
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from canonical import currencies

__all__ = ["CurrencyMismatchError", "Money", "sum_money"]

# The thread's default decimal context rounds to 28 significant digits, which would silently lose
# money on large or very precise amounts. All arithmetic here goes through this context instead: its
# precision is unbounded for practical purposes, and Inexact is trapped so any rounding we did not
# ask for raises rather than passes. It is also independent of whatever context a caller has set.
_EXACT = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
# Same, for quantize: rounding there is the point, so only Inexact is let through.
_ROUNDING = _EXACT.copy()
_ROUNDING.traps[Inexact] = False


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined; converting them needs a rate, not ``+``."""

    def __init__(self, operation: str, left: str, right: str) -> None:
        super().__init__(f"cannot {operation} {left} and {right}: currencies differ")
        self.operation = operation
        self.left = left
        self.right = right

    def __reduce__(self) -> tuple[type[CurrencyMismatchError], tuple[str, str, str]]:
        # args holds only the message; without this, pickling (e.g. across processes) would fail.
        return type(self), (self.operation, self.left, self.right)


@cache
def _quantum(digits: int) -> Decimal:
    """The smallest minor unit as an exponent template: 2 -> Decimal('0.01'), 0 -> Decimal('1')."""
    return Decimal(1).scaleb(-digits)


def _refuse_float(value: object, what: str) -> None:
    # bool is an int subclass; True as a factor or weight is always a bug, never a number.
    if isinstance(value, float | bool):
        raise TypeError(f"{what} must be Decimal or int, not {type(value).__name__}")


def _amount_input_schema(schema: dict[str, Any]) -> None:
    # pydantic's input schema for Decimal offers "number", but fractional numbers are refused (they
    # arrive as floats); advertise what is accepted. The output schema is already a plain string.
    if "anyOf" in schema:
        schema["anyOf"] = [{"type": "string"}, {"type": "integer"}]


class Money(BaseModel):
    """An exact ``amount`` in ``currency``; equal when both amount value and currency are equal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal = Field(
        description="Exact decimal amount; serialised as a string in JSON.",
        json_schema_extra=_amount_input_schema,
    )
    currency: str = Field(description="ISO 4217 alpha-3 code, e.g. USD.", examples=["USD", "JPY", "KWD"])

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_not_float(cls, value: Any) -> Any:
        # A float has already lost the decimal the user meant (0.1 is not 1/10); refuse it at the
        # boundary instead of guessing. This also refuses JSON numbers with a fraction, for the same
        # reason: send amounts as strings.
        if isinstance(value, float):
            raise ValueError("money amounts must be Decimal, int or a decimal string, not float")
        return value

    @field_validator("amount")
    @classmethod
    def _amount_finite(cls, value: Decimal) -> Decimal:
        # pydantic already refuses NaN and infinities; keep the guarantee explicit in case that
        # default ever changes, since every method below relies on a finite amount.
        if not value.is_finite():
            raise ValueError(f"money amounts must be finite, not {value}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency_known(cls, value: str) -> str:
        code = value.upper()
        currencies.minor_unit_digits(code)  # raises UnknownCurrencyError naming the code
        return code

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """``Money.of("12.50", "usd")``: the short spelling of ``Money(amount=..., currency=...)``."""
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero, written to the currency's minor unit (``0.00 USD``, ``0 JPY``)."""
        return cls.from_minor_units(0, currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """Amount from an integer count of minor units: ``(1234, "USD")`` -> ``12.34 USD``.

        The inverse of ``to_minor_units``, and how amounts from payment processors arrive.
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise TypeError(f"minor units must be int, not {type(units).__name__}")
        code = currency.upper()
        digits = currencies.minor_unit_digits(code)  # raises UnknownCurrencyError naming the code
        return _trusted(_EXACT.scaleb(Decimal(units), -digits), code)

    # -- minor units and rounding -------------------------------------------------------------

    @property
    def minor_unit_digits(self) -> int:
        """Decimal places of this currency's minor unit (USD 2, JPY 0, KWD 3)."""
        return currencies.minor_unit_digits(self.currency)

    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        """This amount quantized to the minor unit, using a ``decimal`` rounding mode.

        Half-up is the default because it is what invoices and tax authorities usually expect;
        pass ``ROUND_HALF_EVEN`` (banker's rounding) where a policy says so.
        """
        quantum = _quantum(self.minor_unit_digits)
        # Quantizing a finite amount gives a finite one (or raises), so the result needs no validation.
        return _trusted(self.amount.quantize(quantum, rounding=rounding, context=_ROUNDING), self.currency)

    @property
    def is_rounded(self) -> bool:
        """Whether the amount has nothing below the minor unit (``1.50`` and ``1.5`` are, in USD)."""
        return _is_whole_minor_units(self.amount, self.minor_unit_digits)

    def to_minor_units(self) -> int:
        """The amount as an integer count of minor units: ``12.34 USD`` -> ``1234``.

        Refuses an unrounded amount rather than truncating it: the caller must choose how to round.
        """
        scaled = _EXACT.scaleb(self.amount, self.minor_unit_digits)
        units = int(scaled)  # truncates: equal to `scaled` exactly when nothing was below the minor unit
        if units != scaled:
            raise ValueError(f"{self} is not rounded to the minor unit of {self.currency}; round it first")
        return units

    # -- arithmetic (exact) -------------------------------------------------------------------

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "add")
        return self._with(_EXACT.add(self.amount, other.amount))

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "subtract")
        return self._with(_EXACT.subtract(self.amount, other.amount))

    def __neg__(self) -> Money:
        return self._with(_EXACT.minus(self.amount))

    def __mul__(self, factor: Decimal | int) -> Money:
        if type(factor) is not Decimal:  # a Decimal needs no checks (the usual case); anything else does
            # Refuse explicitly (not NotImplemented) so the error says why, not just "unsupported".
            _refuse_float(factor, "a money multiplier")
            if not isinstance(factor, Decimal | int):
                return NotImplemented
            factor = Decimal(factor)
        return self._with(_EXACT.multiply(self.amount, factor))

    def __rmul__(self, factor: Decimal | int) -> Money:
        return self.__mul__(factor)

    # -- comparison (same currency only) ------------------------------------------------------
    # Equality and hashing stay pydantic's: equal amount value and equal currency. Ordering across
    # currencies is meaningless without a rate, so it raises instead of answering False.

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._require_same_currency(other, "compare")
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount.is_zero()

    @property
    def is_negative(self) -> bool:
        """Strictly below zero (``-0`` is not negative)."""
        return self.amount < 0

    def __str__(self) -> str:
        # "f" keeps the stored digits but never switches to exponent notation (1E+3 -> 1000).
        return f"{self.amount:f} {self.currency}"

    # -- splitting ----------------------------------------------------------------------------

    def allocate(self, weights: Sequence[Decimal | int]) -> tuple[Money, ...]:
        """Split into minor-unit parts proportional to ``weights`` that add up exactly to ``self``.

        Largest-remainder method: each part gets the floor of its exact share in minor units, and
        the minor units left over go one each to the parts with the largest remainders, earlier
        position first on ties, so the result is deterministic (replay-safe in a workflow). A
        negative amount is split as its absolute value and negated, so rounding is symmetric.
        """
        digits, currency = self.minor_unit_digits, self.currency
        if not _is_whole_minor_units(self.amount, digits):
            raise ValueError(f"cannot allocate {self}: round it to the minor unit of {currency} first")
        scaled = _integer_weights(weights)
        total_units = int(_EXACT.scaleb(self.amount, digits))
        units = _largest_remainder(abs(total_units), scaled)
        sign = -1 if total_units < 0 else 1
        return tuple([_trusted(_EXACT.scaleb(Decimal(sign * u), -digits), currency) for u in units])

    def split_evenly(self, parts: int) -> tuple[Money, ...]:
        """``parts`` near-equal minor-unit parts; any leftover units go to the first parts."""
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise ValueError(f"parts must be a positive int, not {parts!r}")
        return self.allocate([1] * parts)

    # -- helpers ------------------------------------------------------------------------------

    def _with(self, amount: Decimal) -> Money:
        # The currency is this one's, already checked; an amount that came out of exact arithmetic on finite
        # amounts is finite unless a factor was not (NaN, Infinity), and that case keeps the validator's error.
        if amount.is_finite():
            return _trusted(amount, self.currency)
        return Money(amount=amount, currency=self.currency)

    def _require_same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(operation, self.currency, other.currency)


# BaseModel's slots, set directly: what model_construct sets, without its generic walk over the fields.
# One fields-set serves every Money made here: pydantic only reads it (model_copy copies it before adding to
# it) and a frozen model never adds to it; a set per instance was an extra object for the garbage collector to
# walk, a tenth of the revenue engine's time on a large book.
_BOTH_FIELDS_SET = {"amount", "currency"}
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[slot].__set__
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)


def _trusted(amount: Decimal, currency: str) -> Money:
    """A Money from values this module has already checked: a finite Decimal and a known upper-case currency code.

    The instance validation would build, without running it: validation costs more than the arithmetic on the
    revenue engine's hot path. ``tests/revenue/test_fast_paths.py`` holds it equal to the validated construction.
    """
    money = object.__new__(Money)
    _SET_DICT(money, {"amount": amount, "currency": currency})
    _SET_FIELDS_SET(money, _BOTH_FIELDS_SET)
    _SET_EXTRA(money, None)
    _SET_PRIVATE(money, None)
    return money


def _is_whole_minor_units(amount: Decimal, digits: int) -> bool:
    """No digits below the minor unit: ``1.500`` USD is whole cents, ``1.505`` is not."""
    return amount == amount.quantize(_quantum(digits), rounding=ROUND_DOWN, context=_ROUNDING)


def _integer_weights(weights: Sequence[Decimal | int]) -> list[int]:
    """Weights validated and scaled to integers by one common factor, so the split is exact.

    The factor is the least common denominator of the weights: any common factor gives the same split, since
    the largest-remainder method depends only on the weights' proportions.
    """
    if len(weights) == 0:
        raise ValueError("allocate needs at least one weight")
    ratios = [_weight(weight).as_integer_ratio() for weight in weights]
    numerators = [numerator for numerator, _ in ratios]
    if not any(numerators):
        raise ValueError("allocation weights must not all be zero")
    common = lcm(*[denominator for _, denominator in ratios])
    if common == 1:  # whole numbers already (amounts such as 1200.00)
        return numerators
    return [numerator * (common // denominator) for numerator, denominator in ratios]


def _weight(weight: Decimal | int) -> Decimal:
    value = weight
    if type(value) is not Decimal:  # a Decimal needs no type checks (the usual case); anything else does
        _refuse_float(weight, "allocation weights")
        if not isinstance(weight, Decimal | int):
            raise TypeError(f"allocation weights must be Decimal or int, not {type(weight).__name__}")
        value = Decimal(weight)
    if not value.is_finite() or value < 0:
        raise ValueError(f"allocation weights must be finite and non-negative, not {weight}")
    return value


def _largest_remainder(total: int, weights: list[int]) -> list[int]:
    """Split the non-negative integer ``total`` in proportion to non-negative integer ``weights``."""
    weight_sum = sum(weights)
    floors_and_remainders = [divmod(total * weight, weight_sum) for weight in weights]
    parts = [floor for floor, _ in floors_and_remainders]
    leftover = total - sum(parts)  # always < len(weights): each remainder is below one unit
    if leftover:
        by_remainder = sorted(range(len(weights)), key=lambda i: (-floors_and_remainders[i][1], i))
        for index in by_remainder[:leftover]:
            parts[index] += 1
    return parts


@cache
def _zero_amount(code: str) -> Decimal:
    """``Money.zero(code).amount``, made once per currency (sums start from it); refuses an unknown code."""
    return _EXACT.scaleb(Decimal(0), -currencies.minor_unit_digits(code))


def sum_money(items: Iterable[Money], currency: str) -> Money:
    """Exact total of ``items``, all in ``currency``; ``Money.zero(currency)`` when there are none.

    The currency is a parameter so that an empty iterable still has one, and so that a stray item in
    another currency raises CurrencyMismatchError instead of deciding the currency of the total.
    """
    code = currency.upper()
    amount = _zero_amount(code)
    for item in items:
        if type(item) is Money and item.currency == code:
            amount = _EXACT.add(amount, item.amount)
        else:  # anything else gets what ``+`` makes of it: CurrencyMismatchError, or TypeError for a non-Money
            amount = (_trusted(amount, code) + item).amount
    return _trusted(amount, code)
