"""From one version of a contract to the next: what an amendment changes, as a contract modification.

An amendment (`canonical.amendment.amend_contract`) never rewrites what was sold before its effective date: a line
it changes ends the day before and a new line takes over from that day, a line it adds starts that day, a term
extension moves the end of the lines that ran to the old end. So comparing version n with version n + 1:

- a line only version n + 1 has is an added obligation (the "additional goods or services" of ASC 606-10-25-12);
- a line both have whose obligation differs (shortened, extended) is re-termed: its plan stops the day before the
  modification, and what it had allocated but not recognised by then joins the modification's consideration,
  together with the line's change in price, so the transaction price after the modification is version n + 1's;
- every other line is unchanged.

`modify_to_version` then applies `revenue.modifications.modify_contract` with the treatment the facts call for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from canonical.contract import Contract
from canonical.money import Money, sum_money
from revenue.allocation import AllocatedObligation, Allocation, AllocationMethod
from revenue.modifications import (
    ContractModification,
    ModificationFacts,
    ModificationResult,
    Treatment,
    choose_treatment,
    modify_contract,
)
from revenue.obligations import PerformanceObligation, obligations_from_contract
from revenue.recognition import RevenuePlan, Tranche, recognised_by

__all__ = [
    "StaleVersionError",
    "VersionChange",
    "VersionChangeError",
    "modify_to_version",
    "version_allocation",
    "version_change",
]


class StaleVersionError(ValueError):
    """The amended contract is not the version after the one registered (a stale or skipped amendment)."""


class VersionChangeError(ValueError):
    """Version n + 1 changes what an amendment cannot change: the currency, a line's history, a line's existence."""


@dataclass(frozen=True, slots=True)
class VersionChange:
    """Version n + 1's obligations, and which of them the amendment added or re-termed."""

    effective: date
    obligations: tuple[PerformanceObligation, ...]  # every line of version n + 1, in line order
    added: tuple[PerformanceObligation, ...]
    retermed: tuple[PerformanceObligation, ...]  # with their new terms

    @property
    def changed_ids(self) -> frozenset[str]:
        return frozenset(o.obligation_id for o in (*self.added, *self.retermed))


def version_change(
    previous: Contract, previous_obligations: Sequence[PerformanceObligation], amended: Contract, effective: date
) -> VersionChange:
    """How `amended` differs from `previous` (whose registered obligations are `previous_obligations`)."""
    name = f"contract {amended.contract_id} version {amended.version}"
    if amended.contract_id != previous.contract_id:
        raise StaleVersionError(f"{name} is not a version of contract {previous.contract_id}")
    if amended.version != previous.version + 1:
        raise StaleVersionError(
            f"{name} does not follow version {previous.version}, the one registered; record version "
            f"{previous.version + 1} first, or amend the current version"
        )
    if amended.currency != previous.currency:
        raise VersionChangeError(f"{name} is in {amended.currency}; version {previous.version} in {previous.currency}")
    before = {o.line_no: o for o in previous_obligations}
    obligations = obligations_from_contract(amended)
    if missing := sorted(set(before) - {o.line_no for o in obligations}):
        raise VersionChangeError(
            f"{name} has no line {', '.join(map(str, missing))}; an amendment ends a line, it never removes it"
        )
    added = tuple(o for o in obligations if o.line_no not in before)
    if early := [o for o in added if o.start < effective]:
        raise VersionChangeError(
            f"{name} adds line {early[0].line_no} from {early[0].start}, before the modification takes effect "
            f"({effective}): an amendment cannot add what was already delivered"
        )
    retermed = tuple(o for o in obligations if o.line_no in before and o != before[o.line_no])
    return VersionChange(effective, obligations, added, retermed)


def modify_to_version(
    obligations: Sequence[PerformanceObligation],
    plans: Mapping[str, RevenuePlan],
    change: VersionChange,
    facts: ModificationFacts,
) -> ModificationResult:
    """The modification from the registered `obligations` (planned as `plans`) to version n + 1."""
    retermed = {o.obligation_id: o for o in change.retermed}
    fixed = [o for o in change.retermed if not o.is_variable]
    if fixed and choose_treatment(facts) is Treatment.SEPARATE_CONTRACT:
        lines = ", ".join(str(o.line_no) for o in fixed)
        raise VersionChangeError(
            f"the facts call for a separate contract (ASC 606-10-25-12), which only adds goods or services, but "
            f"the amendment changes line {lines} of {fixed[0].contract_id}"
        )
    last = change.effective - timedelta(days=1)
    current: list[PerformanceObligation] = []
    current_plans: list[RevenuePlan] = []
    moved: list[Money] = []  # consideration the re-termed lines hand over to the modification
    for obligation in obligations:
        plan = plans[obligation.obligation_id]
        new_terms = retermed.get(obligation.obligation_id)
        if new_terms is not None and not obligation.is_variable:
            done = recognised_by(plan, last)
            moved += [plan.allocated - done, new_terms.consideration - obligation.consideration]
            plan = replace(plan, allocated=done, tranches=_history(plan, last))
        current.append(new_terms or obligation)
        current_plans.append(plan)
    modification = ContractModification(
        change.effective,
        facts,
        change.added,
        additional_consideration=sum_money(moved, obligations[0].currency) if fixed else None,
    )
    return modify_contract(current, current_plans, modification)


def version_allocation(change: VersionChange, result: ModificationResult, previous: Allocation) -> Allocation:
    """Version n + 1's allocation: each obligation with what its revised plan allocates to it in all, and the
    SSP and method of the allocation that last priced it (the modification's, else the registration's)."""
    plans = {plan.obligation_id: plan for plan in result.plans}
    lines = []
    for obligation in change.obligations:
        source = _line(result.allocation, obligation.obligation_id) or _line(previous, obligation.obligation_id)
        ssp = source.standalone_selling_price if source is not None else None
        method = source.method if source is not None else AllocationMethod.RELATIVE_SSP
        plan = plans[obligation.obligation_id]
        amount = Money.zero(obligation.currency) if obligation.is_variable else plan.allocated
        lines.append(AllocatedObligation(obligation, ssp, method, amount))
    price = sum_money((line.amount for line in lines), previous.transaction_price.currency)
    return Allocation(price, tuple(lines))


def _line(allocation: Allocation, obligation_id: str) -> AllocatedObligation | None:
    return next((line for line in allocation.lines if line.obligation.obligation_id == obligation_id), None)


def _history(plan: RevenuePlan, last: date) -> tuple[Tranche, ...]:
    """The plan's tranches as history: what they recognised up to `last` stays, nothing after it."""
    kept = []
    for tranche in plan.tranches:
        if tranche.start > last:
            continue
        kept.append(tranche if tranche.last_day <= last else replace(tranche, stops_after=last))
    return tuple(kept)
