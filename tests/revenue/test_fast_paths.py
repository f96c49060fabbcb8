"""The revenue engine's fast paths give exactly what the plain, slow computation gives.

Money built without validation (arithmetic results, minor units, allocation parts) equals the validated Money in
every respect pydantic compares or serialises; a schedule's ratable figures equal `Tranche.units_by` at every
period end; the allocation's integer weights split exactly as scaling by a power of ten did.
"""

from __future__ import annotations

import pickle
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical.money import Money, sum_money
from revenue.calendar import calendar_months, fiscal_445
from revenue.recognition import Pattern, RevenuePlan, Tranche, schedule

CURRENCIES = ("USD", "JPY", "KWD", "CLF")
MONTHS = calendar_months(date(2026, 12, 1), date(2034, 12, 31))
FISCAL = fiscal_445(date(2026, 12, 27), 9)
FIRST_DAY = date(2027, 1, 1)
SETTINGS = settings(max_examples=200, deadline=None)

amounts = st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False)
days = st.integers(0, 3 * 365).map(lambda n: FIRST_DAY + timedelta(days=n))


def same_as_validated(money: Money) -> None:
    """`money` is indistinguishable from Money(amount=..., currency=...) built through validation."""
    validated = Money(amount=money.amount, currency=money.currency)
    assert money == validated and hash(money) == hash(validated)
    assert money.__dict__ == validated.__dict__ and list(money.__dict__) == list(validated.__dict__)
    assert str(money.amount) == str(validated.amount)  # same digits and exponent, not only the same value
    assert money.model_fields_set == validated.model_fields_set
    assert money.__pydantic_extra__ == validated.__pydantic_extra__
    assert money.__pydantic_private__ == validated.__pydantic_private__
    assert money.model_dump_json() == validated.model_dump_json() and repr(money) == repr(validated)
    assert pickle.loads(pickle.dumps(money)) == validated
    assert Money.model_validate_json(money.model_dump_json()) == money


@SETTINGS
@given(amounts, amounts, st.sampled_from(CURRENCIES), st.integers(-(10**15), 10**15), st.integers(-999, 999))
def test_money_made_without_validation_is_the_validated_money(
    left: Decimal, right: Decimal, currency: str, units: int, factor: int
) -> None:
    a, b = Money.of(left, currency), Money.of(right, currency)
    scaled, total = a * Decimal(factor).scaleb(-3), sum_money([a, b], currency)
    for made in (a + b, a - b, -a, a * factor, scaled, a.rounded(), total):
        same_as_validated(made)
    same_as_validated(Money.from_minor_units(units, currency.lower()))
    rounded = a.rounded()
    for part in rounded.allocate([abs(factor), 1, 3]) + rounded.split_evenly(3):
        same_as_validated(part)


def test_copying_one_money_leaves_the_others_alone() -> None:
    made, other = Money.from_minor_units(150, "USD"), Money.from_minor_units(7, "USD")
    copied = made.model_copy(update={"amount": Decimal("2.00")})

    assert copied.amount == Decimal("2.00") and made.amount == Decimal("1.50")
    assert made.model_fields_set == other.model_fields_set == {"amount", "currency"}


def test_validation_still_guards_what_the_fast_path_does_not_build() -> None:
    with pytest.raises(ValidationError, match="finite"):
        Money.of("1.00", "USD") * Decimal("Infinity")
    with pytest.raises(ValidationError, match=r"finite|NaN|nan"):
        Money.of("1.00", "USD") * Decimal("NaN")
    with pytest.raises(ValidationError, match="float"):
        Money(amount=0.1, currency="USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown ISO 4217 currency code: 'XXX'"):
        Money.from_minor_units(1, "XXX")
    with pytest.raises(TypeError, match="unsupported operand"):
        sum_money([Money.of(1, "USD"), 1], "USD")  # type: ignore[list-item]


def split_by_powers_of_ten(total: int, weights: list[Decimal]) -> list[int]:
    """The largest-remainder split with weights scaled by 10**places, as Money.allocate first computed it."""
    places = max(0, *(-int(w.as_tuple().exponent) for w in weights))
    scaled = [int(w.scaleb(places)) for w in weights]
    exact = [(total * w, sum(scaled)) for w in scaled]
    parts = [numerator // denominator for numerator, denominator in exact]
    order = sorted(range(len(scaled)), key=lambda i: (-(exact[i][0] % exact[i][1]), i))
    for index in order[: total - sum(parts)]:
        parts[index] += 1
    return parts


@SETTINGS
@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.decimals(min_value=0, max_value=10**6, places=4), min_size=1, max_size=6),
)
def test_allocation_splits_as_scaling_by_powers_of_ten_did(units: int, weights: list[Decimal]) -> None:
    if not any(weights):
        return
    parts = Money.from_minor_units(units, "USD").allocate(weights)
    expected = split_by_powers_of_ten(abs(units), weights)
    assert [p.to_minor_units() for p in parts] == [u if units >= 0 else -u for u in expected]


@st.composite
def tranche(draw: st.DrawFn) -> Tranche:
    start = draw(days)
    end = start + timedelta(days=draw(st.integers(0, 1200)))
    stops = draw(st.one_of(st.none(), st.integers(-5, 1300).map(lambda n: start + timedelta(days=n))))
    pattern = draw(st.sampled_from([Pattern.RATABLE_DAILY, Pattern.MONTHLY_EQUAL]))
    amount = Money.from_minor_units(draw(st.integers(-(10**11), 10**11)), draw(st.sampled_from(CURRENCIES)))
    return Tranche(amount, pattern, start, end, stops)


@SETTINGS
@given(st.lists(tranche(), min_size=1, max_size=3), st.sampled_from([MONTHS, FISCAL]))
def test_schedule_figures_are_units_by_each_period_end(tranches: list[Tranche], calendar) -> None:
    currency = tranches[0].amount.currency
    tranches = [t for t in tranches if t.amount.currency == currency]
    plan = RevenuePlan("C1#1", "C1", tranches[0].amount, tuple(tranches))
    made = schedule(plan, calendar)

    cumulative = 0
    for period, units in zip(made.periods, made.minor_units, strict=True):
        cumulative += units
        assert cumulative == sum(t.units_by(period.end) for t in tranches)
    assert cumulative == sum(t.units_by(t.last_day) for t in tranches)
    for line in made.lines:
        same_as_validated(line.amount)
        same_as_validated(line.cumulative)
