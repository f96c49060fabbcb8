"""Money: exact Decimal arithmetic, explicit rounding, and allocation that never loses a minor unit."""

from __future__ import annotations

import json
import operator
import pickle
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical.currencies import (
    MINOR_UNIT_DIGITS,
    UnknownCurrencyError,
    is_known_currency,
    minor_unit_digits,
)
from canonical.money import CurrencyMismatchError, Money, sum_money

# Minor units 2, 0, 3, 4, 2: enough spread to catch code that assumes cents.
CURRENCIES = ("USD", "JPY", "KWD", "CLF", "EUR")
BOUND = 10**12


def _unit(currency: str) -> Fraction:
    return Fraction(1, 10 ** minor_unit_digits(currency))


@st.composite
def exact_money(draw: st.DrawFn, currency: str | None = None) -> Money:
    """Any amount, usually with more decimal places than the currency's minor unit."""
    code = currency if currency is not None else draw(st.sampled_from(CURRENCIES))
    places = draw(st.integers(min_value=0, max_value=8))
    amount = draw(st.decimals(min_value=-BOUND, max_value=BOUND, places=places))
    return Money.of(amount, code)


@st.composite
def rounded_money(draw: st.DrawFn, currency: str | None = None) -> Money:
    code = currency if currency is not None else draw(st.sampled_from(CURRENCIES))
    units = draw(st.integers(min_value=-(10**15), max_value=10**15))
    return Money.from_minor_units(units, code)


@st.composite
def same_currency(draw: st.DrawFn, count: int, rounded: bool = False) -> tuple[Money, ...]:
    code = draw(st.sampled_from(CURRENCIES))
    strategy = rounded_money(code) if rounded else exact_money(code)
    return tuple(draw(strategy) for _ in range(count))


weight = st.one_of(
    st.integers(min_value=0, max_value=1000),
    st.decimals(min_value=0, max_value=1000, places=3),
)
weights = st.lists(weight, min_size=1, max_size=12).filter(lambda ws: any(w != 0 for w in ws))


# -- currency table -------------------------------------------------------------------------------


def test_minor_unit_digits_for_known_currencies() -> None:
    expected = {
        "USD": 2, "EUR": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
        "LYD": 3, "IQD": 3, "CLF": 4, "UYW": 4, "ISK": 0, "VND": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        "CLP": 0, "UGX": 0, "PYG": 0,
    }  # fmt: skip
    for code, digits in expected.items():
        assert minor_unit_digits(code) == digits, code
        assert is_known_currency(code)


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XXX", "XTS", "HRK", "usd", "", "US"])
def test_codes_without_minor_unit_or_withdrawn_or_malformed_are_unknown(code: str) -> None:
    assert not is_known_currency(code)
    with pytest.raises(UnknownCurrencyError, match=repr(code)):
        minor_unit_digits(code)


def test_currency_table_is_read_only_and_well_formed() -> None:
    assert issubclass(UnknownCurrencyError, ValueError)
    with pytest.raises(TypeError):
        MINOR_UNIT_DIGITS["ZZZ"] = 2  # type: ignore[index]
    assert len(MINOR_UNIT_DIGITS) > 150
    for code, digits in MINOR_UNIT_DIGITS.items():
        assert len(code) == 3 and code.isascii() and code.isupper()
        assert digits in {0, 2, 3, 4}


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [Decimal("12.50"), 12, "12.50", "-0.001"])
def test_decimal_int_and_string_amounts_are_accepted(amount: Decimal | int | str) -> None:
    assert Money.of(amount, "USD").amount == Decimal(amount)


def test_float_amount_is_refused() -> None:
    message = "money amounts must be Decimal, int or a decimal string, not float"
    with pytest.raises(ValidationError, match=message):
        Money(amount=0.1, currency="USD")
    with pytest.raises(ValidationError, match=message):
        Money.model_validate_json('{"amount": 0.1, "currency": "USD"}')


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", Decimal("NaN"), Decimal("-Inf")])
def test_non_finite_amount_is_refused(amount: str | Decimal) -> None:
    with pytest.raises(ValidationError):
        Money.of(amount, "USD")


def test_unknown_currency_is_refused_naming_the_code() -> None:
    with pytest.raises(ValidationError, match="'ABC'"):
        Money.of(1, "ABC")
    with pytest.raises(ValidationError, match="'XAU'"):
        Money.of(1, "XAU")


def test_lower_case_currency_is_upper_cased() -> None:
    assert Money.of("1", "usd").currency == "USD"
    assert Money.zero("jpy").currency == "JPY"


def test_frozen_and_no_extra_fields() -> None:
    money = Money.of("1.00", "USD")
    with pytest.raises(ValidationError):
        money.amount = Decimal(2)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Money(amount=Decimal(1), currency="USD", note="x")  # type: ignore[call-arg]


# -- serialisation --------------------------------------------------------------------------------


def test_json_amount_is_a_string() -> None:
    payload = json.loads(Money.of("1234.50", "USD").model_dump_json())
    assert payload == {"amount": "1234.50", "currency": "USD"}


@given(exact_money())
def test_json_round_trip_keeps_the_decimal_exactly(money: Money) -> None:
    back = Money.model_validate_json(money.model_dump_json())
    assert back == money
    assert back.amount.as_tuple() == money.amount.as_tuple()  # same digits and exponent, not just value


def test_json_schema_is_available() -> None:
    assert Money.model_json_schema()["required"] == ["amount", "currency"]
    serialised = Money.model_json_schema(mode="serialization")["properties"]["amount"]
    assert serialised["type"] == "string"


# -- minor units and rounding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "USD", "1.01"),
        ("-1.005", "USD", "-1.01"),
        ("1234.5", "JPY", "1235"),
        ("1.2345", "KWD", "1.235"),
        ("1.23455", "CLF", "1.2346"),
        ("7", "KWD", "7.000"),
    ],
)
def test_rounded_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = Money.of(amount, currency).rounded()
    assert str(rounded.amount) == expected
    assert rounded.is_rounded


def test_rounded_with_another_mode() -> None:
    assert Money.of("2.5", "JPY").rounded(ROUND_HALF_EVEN) == Money.of(2, "JPY")
    assert Money.of("0.019", "USD").rounded(ROUND_DOWN) == Money.of("0.01", "USD")


def test_minor_unit_digits_property() -> None:
    assert Money.zero("JPY").minor_unit_digits == 0
    assert Money.zero("KWD").minor_unit_digits == 3
    assert Money.zero("USD").minor_unit_digits == 2


def test_minor_units_conversion() -> None:
    assert Money.of("12.34", "USD").to_minor_units() == 1234
    assert Money.of("1.5", "USD").to_minor_units() == 150  # value is on the minor unit
    assert Money.of(500, "JPY").to_minor_units() == 500
    assert Money.from_minor_units(1234, "KWD") == Money.of("1.234", "KWD")
    assert str(Money.from_minor_units(-5, "usd")) == "-0.05 USD"
    with pytest.raises(ValueError, match="not rounded"):
        Money.of("12.345", "USD").to_minor_units()
    with pytest.raises(TypeError):
        Money.from_minor_units(1.0, "USD")  # type: ignore[arg-type]


@given(exact_money(), st.sampled_from([ROUND_HALF_UP, ROUND_HALF_EVEN]))
def test_rounding_is_idempotent_and_within_half_a_minor_unit(money: Money, mode: str) -> None:
    rounded = money.rounded(mode)
    assert rounded.is_rounded
    assert rounded.rounded(mode) == rounded
    assert rounded.rounded(mode).amount.as_tuple() == rounded.amount.as_tuple()
    assert abs(Fraction(rounded.amount) - Fraction(money.amount)) <= _unit(money.currency) / 2


@given(st.sampled_from(CURRENCIES), st.integers(min_value=-(10**18), max_value=10**18))
def test_minor_units_round_trip(currency: str, units: int) -> None:
    money = Money.from_minor_units(units, currency)
    assert money.to_minor_units() == units
    assert Money.from_minor_units(money.to_minor_units(), currency) == money


# -- arithmetic -----------------------------------------------------------------------------------


def test_arithmetic_examples() -> None:
    a, b = Money.of("10.10", "USD"), Money.of("0.005", "USD")
    assert a + b == Money.of("10.105", "USD")  # exact: no rounding on the way
    assert a - b == Money.of("10.095", "USD")
    assert -a == Money.of("-10.10", "USD")
    assert a * 3 == Money.of("30.30", "USD") == 3 * a
    assert a * Decimal("0.5") == Money.of("5.05", "USD") == Decimal("0.5") * a


def test_arithmetic_is_exact_beyond_default_decimal_precision() -> None:
    big = Money.of("12345678901234567890123456789.01", "USD")
    assert (big + Money.of("0.01", "USD")).amount == Decimal("12345678901234567890123456789.02")
    assert (big * 3).amount == Decimal("37037036703703703670370370367.03")


def test_float_factor_is_refused() -> None:
    money = Money.of(1, "USD")
    with pytest.raises(TypeError, match="float"):
        money * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError, match="float"):
        1.5 * money  # type: ignore[operator]


@given(same_currency(2))
def test_addition_is_commutative(pair: tuple[Money, ...]) -> None:
    a, b = pair
    assert a + b == b + a


@given(same_currency(3))
def test_addition_is_associative(triple: tuple[Money, ...]) -> None:
    a, b, c = triple
    assert (a + b) + c == a + (b + c)


@given(same_currency(2))
def test_add_then_subtract_is_identity(pair: tuple[Money, ...]) -> None:
    a, b = pair
    assert a + b - b == a
    assert a - a == Money.zero(a.currency)


@given(exact_money(), st.integers(min_value=-1000, max_value=1000))
def test_multiplication_matches_repeated_exact_arithmetic(money: Money, factor: int) -> None:
    assert Fraction((money * factor).amount) == Fraction(money.amount) * factor


def test_cross_currency_operations_raise() -> None:
    usd, eur = Money.of(1, "USD"), Money.of(1, "EUR")
    with pytest.raises(CurrencyMismatchError, match="add USD and EUR"):
        usd + eur
    with pytest.raises(CurrencyMismatchError, match="subtract USD and EUR"):
        usd - eur
    for compare in (operator.lt, operator.le, operator.gt, operator.ge):
        with pytest.raises(CurrencyMismatchError, match="compare USD and EUR"):
            compare(usd, eur)
    assert issubclass(CurrencyMismatchError, ValueError)
    error = pickle.loads(pickle.dumps(CurrencyMismatchError("add", "USD", "EUR")))
    assert (error.operation, error.left, error.right, str(error)) == (
        "add",
        "USD",
        "EUR",
        "cannot add USD and EUR: currencies differ",
    )


@given(exact_money(), exact_money())
def test_cross_currency_add_and_compare_raise(a: Money, b: Money) -> None:
    if a.currency == b.currency:
        return
    with pytest.raises(CurrencyMismatchError):
        a + b
    with pytest.raises(CurrencyMismatchError):
        a < b  # noqa: B015 - the comparison itself must raise


def test_comparisons_and_predicates() -> None:
    one, two = Money.of(1, "USD"), Money.of("2.00", "USD")
    assert one < two and one <= two and two > one and two >= one
    assert one <= Money.of("1.000", "USD") and one >= Money.of("1.0", "USD")
    assert Money.zero("USD").is_zero and not one.is_zero
    assert (-one).is_negative and not one.is_negative and not Money.zero("USD").is_negative


def test_equality_is_by_value_and_currency() -> None:
    assert Money.of("1.0", "USD") == Money.of("1.00", "USD")
    assert hash(Money.of("1.0", "USD")) == hash(Money.of("1.00", "USD"))
    assert Money.of(1, "USD") != Money.of(1, "EUR")


def test_str() -> None:
    assert str(Money.of("1234.50", "USD")) == "1234.50 USD"
    assert str(Money.of("1E+3", "JPY")) == "1000 JPY"
    assert str(Money.zero("KWD")) == "0.000 KWD"


def test_sum_money() -> None:
    assert sum_money([], "usd") == Money.zero("USD")
    items = [Money.of("0.10", "USD"), Money.of("0.20", "USD"), Money.of("0.005", "USD")]
    assert sum_money(items, "USD") == Money.of("0.305", "USD")
    with pytest.raises(CurrencyMismatchError):
        sum_money(items, "EUR")


# -- allocation -----------------------------------------------------------------------------------


def test_split_evenly_gives_leftover_units_to_the_first_parts() -> None:
    assert [str(p) for p in Money.of(100, "USD").split_evenly(3)] == ["33.34 USD", "33.33 USD", "33.33 USD"]
    assert [str(p) for p in Money.of(100, "JPY").split_evenly(3)] == ["34 JPY", "33 JPY", "33 JPY"]
    assert [str(p) for p in Money.of(1, "KWD").split_evenly(3)] == ["0.334 KWD", "0.333 KWD", "0.333 KWD"]
    assert [str(p) for p in Money.of("-0.05", "USD").split_evenly(2)] == ["-0.03 USD", "-0.02 USD"]


def test_allocate_uses_largest_remainder() -> None:
    parts = Money.of(1, "USD").allocate([1, 2])  # exact shares 33.33.. and 66.66.. cents
    assert parts == (Money.of("0.33", "USD"), Money.of("0.67", "USD"))
    parts = Money.of("0.10", "USD").allocate([Decimal("0.3"), 0, Decimal("0.7")])
    assert parts == (Money.of("0.03", "USD"), Money.zero("USD"), Money.of("0.07", "USD"))


@pytest.mark.parametrize(
    ("weights", "error"),
    [([], ValueError), ([1, -1], ValueError), ([0, 0], ValueError), ([1, 1.5], TypeError)],
)
def test_allocate_refuses_bad_weights(weights: list[Decimal | int], error: type[Exception]) -> None:
    with pytest.raises(error):
        Money.of(1, "USD").allocate(weights)


def test_allocate_refuses_an_unrounded_amount_and_split_evenly_bad_parts() -> None:
    with pytest.raises(ValueError, match="round it"):
        Money.of("1.005", "USD").allocate([1, 1])
    for parts in (0, -1):
        with pytest.raises(ValueError):
            Money.of(1, "USD").split_evenly(parts)


@given(rounded_money(), weights)
def test_allocation_is_exact_rounded_fair_and_deterministic(total: Money, ws: list[Decimal | int]) -> None:
    parts = total.allocate(ws)
    assert len(parts) == len(ws)
    assert sum_money(parts, total.currency) == total
    weight_sum = sum(Fraction(w) for w in ws)
    for part, w in zip(parts, ws, strict=True):
        assert part.currency == total.currency
        assert part.is_rounded
        exact_share = Fraction(total.amount) * Fraction(w) / weight_sum
        assert abs(Fraction(part.amount) - exact_share) < _unit(total.currency)
    assert total.allocate(list(ws)) == parts


@given(rounded_money(), weights)
def test_allocating_a_negative_amount_mirrors_the_positive_one(total: Money, ws: list[Decimal | int]) -> None:
    assert (-total).allocate(ws) == tuple(-part for part in total.allocate(ws))


@given(rounded_money(), st.integers(min_value=1, max_value=50))
def test_split_evenly_parts_differ_by_at_most_one_unit(total: Money, count: int) -> None:
    parts = total.split_evenly(count)
    assert sum_money(parts, total.currency) == total
    units = [p.to_minor_units() for p in parts]
    assert max(units) - min(units) <= 1
