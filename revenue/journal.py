"""Balanced journal entries in beancount's convention: signed postings, debits positive, summing to zero.

An entry that does not balance cannot be built. Functional-currency amounts, when asked for, are the day's
rate applied to the entry's total and split over its postings by largest remainder, so they balance too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from canonical.money import Money, sum_money
from revenue.exchange import Translation

__all__ = ["ChartOfAccounts", "EntryKind", "JournalEntry", "Posting", "UnbalancedEntryError", "translated"]


@dataclass(frozen=True, slots=True)
class ChartOfAccounts:
    """The balance-sheet accounts the engine posts to; revenue accounts come from each product's mapping."""

    cash: str = "1000"
    receivable: str = "1100"
    unbilled_receivable: str = "1200"
    contract_asset: str = "1300"
    contract_liability: str = "2400"


class EntryKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    RECOGNITION = "recognition"
    CATCH_UP = "catch_up"


class UnbalancedEntryError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Money  # debit positive, credit negative
    functional: Money | None = None

    @property
    def debit(self) -> Money:
        return self.amount if self.amount.amount > 0 else Money.zero(self.amount.currency)

    @property
    def credit(self) -> Money:
        return -self.amount if self.amount.amount < 0 else Money.zero(self.amount.currency)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    contract_id: str
    booked_on: date
    kind: EntryKind
    memo: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise UnbalancedEntryError(f"{self.kind} entry for {self.contract_id} needs a debit and a credit")
        currencies = {p.amount.currency for p in self.postings}
        if len(currencies) != 1:
            raise UnbalancedEntryError(f"an entry is in one transaction currency, not {sorted(currencies)}")
        if not sum_money((p.amount for p in self.postings), self.currency).is_zero:
            raise UnbalancedEntryError(
                f"{self.kind} entry for {self.contract_id}: debits {self.debits} != credits {self.credits}"
            )
        functional = [p.functional for p in self.postings]
        if any(f is not None for f in functional):
            if any(f is None for f in functional):
                raise UnbalancedEntryError("either every posting has a functional amount or none does")
            amounts = [f for f in functional if f is not None]
            if not sum_money(amounts, amounts[0].currency).is_zero:
                raise UnbalancedEntryError(f"{self.kind} entry for {self.contract_id} does not balance functionally")

    @property
    def currency(self) -> str:
        return self.postings[0].amount.currency

    @property
    def debits(self) -> Money:
        return sum_money((p.debit for p in self.postings), self.currency)

    @property
    def credits(self) -> Money:
        return sum_money((p.credit for p in self.postings), self.currency)


def translated(postings: Sequence[Posting], translation: Translation | None, on: date) -> tuple[Posting, ...]:
    """`postings` with functional amounts at `on`'s rate; unchanged without a translation."""
    if translation is None or not postings:
        return tuple(postings)
    currency = postings[0].amount.currency
    rate = translation.rates.rate(currency, translation.functional_currency, on)
    debits = [p for p in postings if p.amount.amount > 0]
    credits = [p for p in postings if p.amount.amount < 0]
    total = sum_money((p.amount for p in debits), currency)
    functional = Money.of(total.amount, translation.functional_currency) * rate
    functional = functional.rounded()
    parts = {id(p): part for p, part in zip(debits, _split(functional, debits), strict=True)}
    parts |= {id(p): _negated(part) for p, part in zip(credits, _split(functional, credits), strict=True)}
    zero = Money.zero(translation.functional_currency)
    return tuple(Posting(p.account, p.amount, parts.get(id(p), zero)) for p in postings)


def _split(total: Money, side: list[Posting]) -> tuple[Money, ...]:
    return total.allocate([abs(p.amount.amount) for p in side]) if side else ()


def _negated(money: Money) -> Money:
    # Through minor units, so that a zero share stays 0.00 rather than -0.00.
    return Money.from_minor_units(-money.to_minor_units(), money.currency)
