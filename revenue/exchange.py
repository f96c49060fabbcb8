"""Transaction currency → functional currency: a pluggable rate source, and a fixed-rate one for tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

__all__ = ["FixedRates", "MissingRateError", "RateSource", "Translation"]


class MissingRateError(LookupError):
    pass


class RateSource(Protocol):
    def rate(self, base: str, quote: str, on: date) -> Decimal:
        """Units of `quote` for one unit of `base` on `on` (UTC day), exact as published."""
        ...


@dataclass(frozen=True)
class FixedRates:
    """The same rate every day. Only the pairs given: inverting a rate would invent digits nobody published."""

    rates: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)

    def rate(self, base: str, quote: str, on: date) -> Decimal:
        if base == quote:
            return Decimal(1)
        try:
            return self.rates[(base, quote)]
        except KeyError:
            raise MissingRateError(f"no {base}/{quote} rate for {on}") from None


@dataclass(frozen=True)
class Translation:
    """Journals carry functional-currency amounts too, at the rate of the day they are booked."""

    functional_currency: str
    rates: RateSource
