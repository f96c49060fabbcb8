"""Contract modifications: ASC 606-10-25-10..13 (IFRS 15 ¶18-21).

The caller states the facts; the engine picks the treatment and records it:

- added goods distinct and priced at their SSP → a separate contract (25-12): the old plans stand untouched
  and the added obligations get their own allocation;
- otherwise, remaining goods distinct from those transferred → termination of the old contract and a new one,
  prospectively (25-13(a)): the consideration not yet recognised plus the new consideration is allocated over
  the remaining obligations by their SSPs at the modification date;
- otherwise → part of the existing contract, with a cumulative catch-up (25-13(b)): the revised transaction
  price is reallocated and revenue to date is brought to it at the current measure of progress.

History is never restated: old tranches stop the day before the modification, and any adjustment is a tranche
on the effective date. Credits for goods already transferred (Example 5 case B) are price concessions recognised
at once, whatever the treatment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from canonical.money import Money, sum_money
from revenue.allocation import Allocation, AllocationError, allocate_transaction_price
from revenue.calendar import AccountingCalendar
from revenue.obligations import PerformanceObligation, Satisfaction
from revenue.recognition import (
    Pattern,
    RevenuePlan,
    Schedule,
    Tranche,
    plan_obligation,
    plan_usage,
    recognised_by,
    schedule,
)
from revenue.rounding import round_fraction

__all__ = [
    "CatchUp",
    "ContractModification",
    "ModificationFacts",
    "ModificationResult",
    "PriceConcession",
    "Treatment",
    "choose_treatment",
    "modify_contract",
]


class Treatment(StrEnum):
    SEPARATE_CONTRACT = "separate_contract"  # 25-12
    TERMINATION_AND_NEW_CONTRACT = "termination_and_new_contract"  # 25-13(a), prospective
    CUMULATIVE_CATCH_UP = "cumulative_catch_up"  # 25-13(b)


@dataclass(frozen=True, slots=True)
class ModificationFacts:
    added_goods_distinct: bool
    priced_at_ssp: bool
    remaining_goods_distinct: bool


@dataclass(frozen=True, slots=True)
class PriceConcession:
    """A credit for goods already transferred (ASC 606-10-55-115): a reduction of revenue at once."""

    obligation_id: str
    amount: Money


@dataclass(frozen=True)
class ContractModification:
    effective: date
    facts: ModificationFacts
    added: tuple[PerformanceObligation, ...] = ()
    # Consideration not tied to an added obligation: a price change on the existing goods, or a revised
    # estimate of variable consideration now included in the transaction price.
    additional_consideration: Money | None = None
    concessions: tuple[PriceConcession, ...] = ()
    # SSPs at the modification date, per product code and the mapping's basis, where they differ from inception.
    standalone_prices: Mapping[str, Money] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """Revenue adjusted on `booked_on` (positive: more revenue), to be journalled as a catch-up."""

    obligation_id: str
    contract_id: str
    booked_on: date
    amount: Money
    reason: str


@dataclass(frozen=True, slots=True)
class ModificationResult:
    treatment: Treatment
    allocation: Allocation  # what the modification allocated (the new contract's, or the revised one)
    obligations: tuple[PerformanceObligation, ...]  # current terms, for the next modification
    plans: tuple[RevenuePlan, ...]  # every obligation's revised plan
    catch_ups: tuple[CatchUp, ...]

    def schedules(self, calendar: AccountingCalendar) -> tuple[Schedule, ...]:
        return tuple(schedule(plan, calendar) for plan in self.plans)


def choose_treatment(facts: ModificationFacts) -> Treatment:
    if facts.added_goods_distinct and facts.priced_at_ssp:
        return Treatment.SEPARATE_CONTRACT
    if facts.remaining_goods_distinct:
        return Treatment.TERMINATION_AND_NEW_CONTRACT
    return Treatment.CUMULATIVE_CATCH_UP


def modify_contract(
    obligations: Sequence[PerformanceObligation],
    plans: Sequence[RevenuePlan],
    modification: ContractModification,
    *,
    recognised_to_date: Mapping[str, Money] | None = None,
    progress: Mapping[str, Decimal] | None = None,
) -> ModificationResult:
    """Apply `modification` to the contract's current obligations and plans.

    `recognised_to_date` is what the ledger holds per obligation (default: what the plans say by the day before
    the modification); catch-ups are measured against it. `progress` overrides the time-elapsed measure of
    progress per obligation for a cumulative catch-up (an input method such as cost-to-cost, Example 8).
    """
    by_id = {plan.obligation_id: plan for plan in plans}
    if missing := [o.obligation_id for o in obligations if o.obligation_id not in by_id]:
        raise ValueError(f"no revenue plan for {', '.join(missing)}")
    added = tuple(_repriced(o, modification) for o in modification.added)
    treatment = choose_treatment(modification.facts)
    if treatment is Treatment.SEPARATE_CONTRACT:
        if not added:
            raise ValueError("a separate contract needs added goods or services of its own")
        if modification.additional_consideration is not None:
            raise ValueError("a separate contract is priced by its added goods alone; no additional consideration")
        allocation = allocate_transaction_price(added)
        result = ModificationResult(
            treatment, allocation, (*obligations, *added), (*plans, *_new_plans(allocation, added)), ()
        )
    elif treatment is Treatment.TERMINATION_AND_NEW_CONTRACT:
        result = _prospectively(obligations, by_id, added, modification)
    else:
        result = _with_catch_up(obligations, by_id, added, modification, recognised_to_date or {}, progress or {})
    return _with_concessions(result, modification)


def _prospectively(
    obligations: Sequence[PerformanceObligation],
    plans: Mapping[str, RevenuePlan],
    added: tuple[PerformanceObligation, ...],
    modification: ContractModification,
) -> ModificationResult:
    effective, last = modification.effective, modification.effective - timedelta(days=1)
    remaining: list[PerformanceObligation] = []
    done: dict[str, Money] = {}
    for obligation in obligations:
        if obligation.is_variable or not _unsatisfied(obligation, effective):
            continue
        plan = plans[obligation.obligation_id]
        done[obligation.obligation_id] = recognised_by(plan, last)
        unrecognised = plan.allocated - done[obligation.obligation_id]
        remaining.append(_repriced(obligation.remaining_from(effective, unrecognised), modification))
    price = sum_money((o.consideration for o in (*remaining, *added)), _currency(obligations))
    price = price + _additional(modification, price.currency)
    if not remaining and not added:
        if not price.is_zero:
            raise AllocationError(f"{price} is left to allocate but no obligation is left to take it")
        allocation = Allocation(price, ())  # everything was satisfied already, and nothing is added
    else:
        allocation = allocate_transaction_price((*remaining, *added), transaction_price=price)
    revised: dict[str, RevenuePlan] = {}
    for portion in remaining:
        plan, amount = plans[portion.obligation_id], allocation.amount_for(portion.obligation_id)
        history = _ended_by(plan, last)
        revised[portion.obligation_id] = replace(
            plan,
            allocated=done[portion.obligation_id] + amount,
            tranches=(*history, *_tranches(portion, effective, amount, plan)),
        )
    current = {o.obligation_id: o for o in obligations} | {o.obligation_id: o for o in remaining}
    return ModificationResult(
        Treatment.TERMINATION_AND_NEW_CONTRACT,
        allocation,
        (*current.values(), *added),
        (*(revised.get(p.obligation_id, p) for p in plans.values()), *_new_plans(allocation, added)),
        (),
    )


def _with_catch_up(
    obligations: Sequence[PerformanceObligation],
    plans: Mapping[str, RevenuePlan],
    added: tuple[PerformanceObligation, ...],
    modification: ContractModification,
    recognised_to_date: Mapping[str, Money],
    progress: Mapping[str, Decimal],
) -> ModificationResult:
    effective, last = modification.effective, modification.effective - timedelta(days=1)
    existing = [_repriced(o, modification) for o in obligations if not o.is_variable]
    price = sum_money(
        (*(plans[o.obligation_id].allocated for o in existing), *(o.consideration for o in added)),
        _currency(obligations),
    )
    allocation = allocate_transaction_price(
        (*existing, *added), transaction_price=price + _additional(modification, price.currency)
    )
    revised: dict[str, RevenuePlan] = {}
    catch_ups: list[CatchUp] = []
    for obligation in existing:
        plan, amount = plans[obligation.obligation_id], allocation.amount_for(obligation.obligation_id)
        measured = progress.get(obligation.obligation_id)
        fraction = Fraction(measured) if measured is not None else _elapsed(obligation, last)
        to_date = Money.from_minor_units(round_fraction(amount.to_minor_units() * fraction), amount.currency)
        by_plan = recognised_by(plan, last)
        adjustment = [Tranche(to_date - by_plan, Pattern.POINT_IN_TIME, effective, effective)]
        rest = _tranches(obligation, effective, amount - to_date, plan)
        tranches = (*_ended_by(plan, last), *(adjustment if to_date != by_plan else []), *rest)
        revised[obligation.obligation_id] = replace(plan, allocated=amount, tranches=tranches)
        caught_up = to_date - recognised_to_date.get(obligation.obligation_id, by_plan)
        if not caught_up.is_zero:
            percent = Decimal(fraction.numerator) / Decimal(fraction.denominator)
            reason = f"cumulative catch-up at {percent:.2%} complete (ASC 606-10-25-13(b))"
            catch_ups.append(CatchUp(obligation.obligation_id, obligation.contract_id, effective, caught_up, reason))
    return ModificationResult(
        Treatment.CUMULATIVE_CATCH_UP,
        allocation,
        (*obligations, *added),
        (*(revised.get(p.obligation_id, p) for p in plans.values()), *_new_plans(allocation, added)),
        tuple(catch_ups),
    )


def _with_concessions(result: ModificationResult, modification: ContractModification) -> ModificationResult:
    if not modification.concessions:
        return result
    plans = {plan.obligation_id: plan for plan in result.plans}
    catch_ups = list(result.catch_ups)
    for concession in modification.concessions:
        plan = plans[concession.obligation_id]
        on = modification.effective
        credit = Tranche(-concession.amount, Pattern.POINT_IN_TIME, on, on)
        plans[plan.obligation_id] = replace(
            plan, allocated=plan.allocated - concession.amount, tranches=(*plan.tranches, credit)
        )
        reason = "price concession on goods already transferred (ASC 606-10-55-115)"
        catch_ups.append(CatchUp(plan.obligation_id, plan.contract_id, on, -concession.amount, reason))
    return replace(result, plans=tuple(plans.values()), catch_ups=tuple(catch_ups))


def _unsatisfied(obligation: PerformanceObligation, effective: date) -> bool:
    if obligation.satisfaction is Satisfaction.POINT_IN_TIME:
        return obligation.milestone is None or obligation.milestone >= effective
    return obligation.end >= effective


def _elapsed(obligation: PerformanceObligation, last: date) -> Fraction:
    """Progress by the day before the modification: time elapsed, or delivered / not for a milestone."""
    if obligation.satisfaction is Satisfaction.POINT_IN_TIME:
        return Fraction(1 if obligation.milestone is not None and obligation.milestone <= last else 0)
    elapsed = min(max((last - obligation.start).days + 1, 0), obligation.days)
    return Fraction(elapsed, obligation.days)


def _tranches(
    obligation: PerformanceObligation, effective: date, amount: Money, plan: RevenuePlan
) -> tuple[Tranche, ...]:
    """New tranches recognising `amount` for what remains of `obligation` from `effective` on.

    Nothing while a milestone is not yet known (the amount awaits it); a remainder of an obligation whose
    service period has already ended is recognised on the effective date.
    """
    if amount.is_zero:
        return ()
    if obligation.satisfaction is Satisfaction.POINT_IN_TIME:
        if obligation.milestone is None:
            return ()
        on = max(obligation.milestone, effective)
        return (Tranche(amount, Pattern.POINT_IN_TIME, on, on),)
    if obligation.end < effective:
        return (Tranche(amount, Pattern.POINT_IN_TIME, effective, effective),)
    ratable = [t.pattern for t in plan.tranches if t.pattern is not Pattern.POINT_IN_TIME]
    pattern = ratable[-1] if ratable else Pattern.RATABLE_DAILY
    return (Tranche(amount, pattern, max(obligation.start, effective), obligation.end),)


def _ended_by(plan: RevenuePlan, last: date) -> tuple[Tranche, ...]:
    """The plan's tranches as history: nothing recognised after `last`."""
    kept: list[Tranche] = []
    for tranche in plan.tranches:
        if tranche.start > last:
            continue
        kept.append(tranche if tranche.last_day <= last else replace(tranche, stops_after=last))
    return tuple(kept)


def _new_plans(allocation: Allocation, added: tuple[PerformanceObligation, ...]) -> tuple[RevenuePlan, ...]:
    ids = {o.obligation_id for o in added}
    return tuple(
        plan_usage(line, ()) if line.obligation.is_variable else plan_obligation(line)
        for line in allocation.lines
        if line.obligation.obligation_id in ids
    )


def _repriced(obligation: PerformanceObligation, modification: ContractModification) -> PerformanceObligation:
    price = modification.standalone_prices.get(obligation.product_code)
    if price is None:
        return obligation
    return replace(obligation, standalone=replace(obligation.standalone, price=price))


def _additional(modification: ContractModification, currency: str) -> Money:
    return modification.additional_consideration or Money.zero(currency)


def _currency(obligations: Sequence[PerformanceObligation]) -> str:
    if not obligations:
        raise ValueError("a modification needs the contract's obligations")
    return obligations[0].currency
