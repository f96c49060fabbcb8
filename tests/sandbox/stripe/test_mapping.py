"""The adapter's pure mapping: amounts in minor units, start timing, term segments (no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters.errors import PermanentAdapterError
from adapters.stripe import mapping
from canonical.mapping_rules import MappingRules
from canonical.money import Money

from .conftest import unique_contract


def ts(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())  # type: ignore[arg-type, misc]


def test_amounts_become_exact_minor_units() -> None:
    assert mapping.minor_units(Money.of("90.00", "USD")) == "9000"
    assert mapping.minor_units(Money.of("0.002", "USD")) == "0.2"
    assert mapping.minor_units(Money.of("1500", "JPY")) == "1500"
    with pytest.raises(PermanentAdapterError):
        mapping.minor_units(Money.of("0.000000000000001", "USD"))  # 13 places of a cent


def test_when_billing_starts() -> None:
    assert mapping.timing(date(2027, 1, 1), ts(2026, 12, 15)) == {
        "billing_cycle_anchor": ts(2027, 1, 1),
        "proration_behavior": "none",
    }
    assert mapping.timing(date(2027, 1, 1), ts(2026, 11, 22)) == {
        "trial_end": ts(2027, 1, 1),
        "proration_behavior": "none",
    }
    assert mapping.timing(date(2027, 1, 31), ts(2027, 3, 10)) == {
        "backdate_start_date": ts(2027, 1, 31),
        "billing_cycle_anchor": ts(2027, 3, 31),
        "proration_behavior": "create_prorations",
    }


def test_a_line_starting_later_splits_the_term(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    seats, onboarding, usage = contract.lines
    late_usage = usage.model_copy(update={"service_start": date(2027, 4, 1)})
    contract = contract.model_copy(update={"lines": (seats, onboarding, late_usage)})

    parts = mapping.segments(contract)

    assert [(p.start, p.end_exclusive) for p in parts] == [
        (date(2027, 1, 1), date(2027, 4, 1)),
        (date(2027, 4, 1), date(2028, 1, 1)),
    ]
    assert [p.items for p in parts] == [(("line-1", 100),), (("line-1", 100), ("line-3", None))]


def test_quarterly_and_annual_prices_bill_whole_intervals(rules: MappingRules) -> None:
    contract = unique_contract(rules)
    seats = contract.lines[0]
    quarterly = mapping.recurring_price(
        contract, seats.model_copy(update={"billing_frequency": "quarterly"}), Money.of("90.00", "USD"), "q", "k"
    )
    annual = mapping.recurring_price(
        contract, seats.model_copy(update={"billing_frequency": "annual"}), Money.of("90.00", "USD"), "a", "k"
    )

    assert quarterly.params["unit_amount_decimal"] == "27000"
    assert quarterly.params["recurring"] == {"interval": "month", "interval_count": 3, "usage_type": "licensed"}
    assert annual.params["unit_amount_decimal"] == "108000" and annual.params["recurring"]["interval"] == "year"
    assert mapping.whole(Decimal("100"), "q") == 100
