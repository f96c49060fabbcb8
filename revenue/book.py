"""A book of revenue contracts: the built-in engine's whole state, built up one business event at a time.

The events are the ones finance would name: a contract registered (its obligations identified and its price
allocated) or withdrawn, a contract modified to its next version (or that modification withdrawn), a month of usage
charged, an invoice or credit note billed, a payment received, a period recognised, a period locked. Replaying the
same events in the same order gives the same book, to the cent, which is what lets the adapter keep only the events
and rebuild the book from them.

Each method checks everything before it changes anything, so a refused event (an unknown contract, a locked
period) leaves the book as it was; `changes` counts the events the book took.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from canonical.billing_documents import BilledLine as DocumentLine
from canonical.billing_documents import BillingDocument, BillingPayment, DocumentKind, MeteredUsage, UsageLine
from canonical.contract import Contract
from canonical.general_ledger import AccountingPeriod, JournalEntryPosting
from canonical.money import Money, sum_money
from revenue.allocation import AllocatedObligation, Allocation, allocate_transaction_price
from revenue.calendar import AccountingCalendar, Period
from revenue.contract_versions import modify_to_version, version_allocation, version_change
from revenue.gl_postings import close_journals, reclass_journal
from revenue.journal import ChartOfAccounts, JournalEntry
from revenue.ledger import (
    BilledLine,
    ContractBalances,
    CreditNote,
    Invoice,
    Ledger,
    Payment,
    close_period,
    post_catch_ups,
    post_credit_note,
    post_invoice,
    post_payment,
)
from revenue.modifications import CatchUp, ModificationFacts, Treatment
from revenue.obligations import PerformanceObligation, obligations_from_contract
from revenue.recognition import RevenuePlan, Schedule, plan_obligation, plan_usage, schedule
from revenue.usage import UsageCharge, price_month_of_usage

__all__ = [
    "ACTIVE",
    "WITHDRAWN",
    "AwaitingAmendmentError",
    "AwaitingRegistrationError",
    "BookError",
    "ModificationBilledError",
    "ModificationInUseError",
    "PeriodClose",
    "PeriodLockedError",
    "RecordedDocument",
    "RecordedLine",
    "RecordedModification",
    "RecordedPayment",
    "RegisteredContract",
    "RegistrationConflictError",
    "RevenueBook",
    "RevenueSnapshot",
    "UnknownContractError",
    "UnknownObligationError",
    "booking_date",
    "revenue_contract_id",
    "usage_month",
]

ACTIVE = "active"
WITHDRAWN = "withdrawn"


class BookError(ValueError):
    """An event the book refuses; the message names the record and what is wrong with it."""


class UnknownContractError(BookError):
    pass


class AwaitingRegistrationError(UnknownContractError):
    """A document or payment for a contract not registered (yet): billing can invoice a new subscription before
    closed-won's next step registers its contract, so the event waits for the registration."""


class UnknownObligationError(BookError):
    pass


class AwaitingAmendmentError(UnknownObligationError):
    """A document bills a contract line beyond the registered version's last: the line of an amendment the engine
    has not been told about yet. Events can arrive out of order, so the document waits for it."""


class PeriodLockedError(BookError):
    pass


class RegistrationConflictError(BookError):
    pass


class ModificationInUseError(BookError):
    """A modification cannot be withdrawn: something was billed or recognised on its terms since."""


class ModificationBilledError(ModificationInUseError):
    """Billed on the modification's terms and not credited back in full (yet): once billing's reversing credit
    note is recorded the billings net to zero and the modification can be withdrawn."""


def revenue_contract_id(contract: Contract) -> str:
    return f"RC-{contract.contract_id}-v{contract.version}"


def usage_month(day: date) -> str:
    """The month a usage charge belongs to, e.g. "2027-02": one charge per obligation and month."""
    return f"{day:%Y-%m}"


def booking_date(document: BillingDocument, period: AccountingPeriod) -> date:
    """A document dated in an earlier (closed) period is booked on the first day of the period it is posted in."""
    return max(document.issued_on, period.start)


@dataclass(frozen=True, slots=True)
class RegisteredContract:
    revenue_contract_id: str
    contract: Contract
    billing_subscription_id: str
    allocation: Allocation
    registered_by: str
    legal_entity: str
    status: str = ACTIVE

    @property
    def contract_id(self) -> str:
        return self.contract.contract_id

    @property
    def version(self) -> int:
        """The contract version the registration stands at: the latest modification's, else the registered one."""
        return self.contract.version

    @property
    def obligations(self) -> tuple[PerformanceObligation, ...]:
        return tuple(line.obligation for line in self.allocation.lines)

    def obligation(self, obligation_id: str) -> PerformanceObligation | None:
        return next((o for o in self.obligations if o.obligation_id == obligation_id), None)


@dataclass(frozen=True, slots=True)
class RecordedModification:
    """A contract modified to `version`, with what undoing it needs: the registration and plans it replaced, and
    how many documents and closes the book had then (what came after is what could depend on it)."""

    contract_id: str
    version: int
    effective: date
    treatment: Treatment
    catch_ups: tuple[CatchUp, ...]
    added: tuple[str, ...]  # obligation IDs of the lines the modification added
    changed: frozenset[str]  # the added obligations and those it re-termed
    recorded_by: str
    previous: RegisteredContract
    previous_plans: Mapping[str, RevenuePlan]
    documents_before: int
    closes_before: int
    caught_up_in: str | None = None  # the period whose close posted the catch-ups
    status: str = ACTIVE

    @property
    def catch_up(self) -> Money | None:
        """The revenue the modification adjusts on its effective date; None unless it is a cumulative catch-up."""
        if self.treatment is not Treatment.CUMULATIVE_CATCH_UP:
            return None
        return sum_money((c.amount for c in self.catch_ups), self.previous.contract.currency)


@dataclass(frozen=True, slots=True)
class RecordedLine:
    line_id: str
    obligation_id: str
    product_code: str
    service_start: date
    service_end: date
    amount: Money


@dataclass(frozen=True, slots=True)
class RecordedDocument:
    """An invoice or credit note as the engine booked it, with its reclass journal for the ERP (if any)."""

    document_id: str
    kind: DocumentKind
    number: str | None
    contract_id: str
    issued_on: date
    booked_on: date
    lines: tuple[RecordedLine, ...]
    total: Money
    entries: tuple[JournalEntry, ...]
    reclass: JournalEntryPosting | None

    @property
    def billed(self) -> Money:
        """What the document adds to the amount billed: the total, negative for a credit note."""
        return self.total if self.kind is DocumentKind.INVOICE else -self.total


@dataclass(frozen=True, slots=True)
class RecordedPayment:
    payment_id: str
    invoice_id: str
    contract_id: str
    received_on: date
    amount: Money
    entries: tuple[JournalEntry, ...]


@dataclass(frozen=True, slots=True)
class PeriodClose:
    """One period's recognition: per-contract entries (the drill-down) and the ERP's summarised journals."""

    period: Period
    erp_period: AccountingPeriod
    entries: tuple[JournalEntry, ...]
    recognised: Mapping[str, Money]  # by obligation: what this close recognised
    journals: tuple[JournalEntryPosting, ...]

    def entries_of(self, contract_id: str) -> tuple[JournalEntry, ...]:
        return tuple(entry for entry in self.entries if entry.contract_id == contract_id)


@dataclass(frozen=True, slots=True)
class RevenueSnapshot:
    """What `revenue.reports` needs: the ledger, every obligation's schedule, every journal entry in order."""

    ledger: Ledger
    schedules: tuple[Schedule, ...]
    entries: tuple[JournalEntry, ...]
    calendar: AccountingCalendar
    chart: ChartOfAccounts


class RevenueBook:
    """Every registered contract's obligations, plans, schedules, billings, cash and closes, on one calendar."""

    def __init__(self, calendar: AccountingCalendar, chart: ChartOfAccounts | None = None) -> None:
        self.calendar = calendar
        self.chart = chart or ChartOfAccounts()
        self.ledger = Ledger.open((), chart=self.chart)
        self.changes = 0
        self._contracts: dict[str, RegisteredContract] = {}  # by revenue contract ID
        self._active: dict[str, str] = {}  # contract ID → its active registration's revenue contract ID
        self._latest: dict[str, str] = {}  # contract ID → its latest registration, active or not
        self._lines: dict[str, AllocatedObligation] = {}
        self._plans: dict[str, RevenuePlan] = {}
        self._schedules: dict[str, Schedule] = {}
        self._usage: dict[str, dict[str, UsageCharge]] = {}  # obligation ID → month → charge
        self._documents: dict[str, RecordedDocument] = {}
        self._payments: dict[str, RecordedPayment] = {}
        self._closes: dict[str, PeriodClose] = {}
        self._modifications: dict[str, list[RecordedModification]] = {}  # by contract ID, in the order recorded
        self._locked: set[str] = set()
        self._journal: list[JournalEntry] = []

    # -- reading -----------------------------------------------------------------------------------------------

    @property
    def contracts(self) -> Mapping[str, RegisteredContract]:
        return self._contracts

    @property
    def documents(self) -> Mapping[str, RecordedDocument]:
        return self._documents

    @property
    def payments(self) -> Mapping[str, RecordedPayment]:
        return self._payments

    @property
    def closes(self) -> Mapping[str, PeriodClose]:
        """By calendar period key, in the order they were recognised."""
        return self._closes

    @property
    def locked(self) -> frozenset[str]:
        return frozenset(self._locked)

    @property
    def journal(self) -> tuple[JournalEntry, ...]:
        return tuple(self._journal)

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({registered.contract.currency for registered in self._contracts.values()}))

    def active_registration(self, contract_id: str) -> RegisteredContract | None:
        registered = self._active.get(contract_id)
        return None if registered is None else self._contracts[registered]

    def modifications_of(self, contract_id: str) -> tuple[RecordedModification, ...]:
        """The contract's modifications in the order recorded, withdrawn ones included."""
        return tuple(self._modifications.get(contract_id, ()))

    def legal_entity_of(self, contract_id: str) -> str:
        return self._contracts[self._latest[contract_id]].legal_entity

    def usage_charge(self, obligation_id: str, month: str) -> UsageCharge | None:
        return self._usage.get(obligation_id, {}).get(month)

    def usage_charges(self) -> tuple[UsageCharge, ...]:
        return tuple(charge for months in self._usage.values() for charge in months.values())

    def usage_lines(self, start: date, end: date) -> tuple[UsageLine, ...]:
        """Usage obligations of active contracts whose service overlaps `start`..`end`, with their subscription."""
        lines = []
        for registered_id in self._active.values():
            registered = self._contracts[registered_id]
            for obligation in registered.obligations:
                if obligation.is_variable and obligation.start <= end and obligation.end >= start:
                    lines.append(
                        UsageLine(
                            contract_id=registered.contract_id,
                            line_no=obligation.line_no,
                            subscription_id=registered.billing_subscription_id,
                        )
                    )
        return tuple(lines)

    def period_of(self, period: AccountingPeriod) -> Period:
        """The calendar period an ERP accounting period stands for: the one containing its last day."""
        return self.calendar.period_of(period.end)

    def snapshot(self) -> RevenueSnapshot:
        return RevenueSnapshot(self.ledger, tuple(self._schedules.values()), self.journal, self.calendar, self.chart)

    def balances(self, contract_id: str) -> ContractBalances:
        return self.ledger.balances(contract_id)

    def total_balances(self, currency: str) -> ContractBalances:
        return self.ledger.total_balances(currency)

    def balances_by_account(self, currency: str | None = None) -> dict[str, Decimal]:
        """Net balance per GL account, debit positive, in one currency (the book's only one by default)."""
        if currency is None:
            if not self.currencies:
                return {}
            if len(self.currencies) > 1:
                raise ValueError(f"the book is in {', '.join(self.currencies)}: name the currency")
            currency = self.currencies[0]
        totals = self.ledger.total_balances(currency)
        accounts = {
            self.chart.cash: totals.cash,
            self.chart.receivable: totals.receivable,
            self.chart.unbilled_receivable: totals.unbilled_receivable,
            self.chart.contract_asset: totals.contract_asset,
            self.chart.contract_liability: -totals.contract_liability,
        }
        accounts |= {account: -amount for account, amount in totals.revenue_by_account}
        return {account: Money.zero(currency).amount if a.is_zero else a.amount for account, a in accounts.items()}

    # -- contracts ---------------------------------------------------------------------------------------------

    def register(self, contract: Contract, billing_subscription_id: str, registered_by: str) -> RegisteredContract:
        """Identify the contract's obligations, allocate its price (AllocationError if it cannot be) and plan them."""
        active = self.active_registration(contract.contract_id)
        if active is not None:
            raise RegistrationConflictError(
                f"contract {contract.contract_id} is already registered as {active.revenue_contract_id}; "
                f"version {contract.version} is a contract modification, not a new registration"
            )
        allocation = allocate_transaction_price(obligations_from_contract(contract))
        plans = {line.obligation.obligation_id: self._plan(line) for line in allocation.lines}
        schedules = {oid: schedule(plan, self.calendar) for oid, plan in plans.items()}
        registered = RegisteredContract(
            revenue_contract_id(contract),
            contract,
            billing_subscription_id,
            allocation,
            registered_by,
            contract.customer.legal_entity,
        )
        self.ledger = self.ledger.with_obligations(registered.obligations)
        self._contracts[registered.revenue_contract_id] = registered
        self._active[contract.contract_id] = self._latest[contract.contract_id] = registered.revenue_contract_id
        self._lines |= {line.obligation.obligation_id: line for line in allocation.lines}
        self._plans |= plans
        self._schedules |= schedules
        self.changes += 1
        return registered

    def withdraw(self, registered_id: str) -> RegisteredContract:
        """Take the registration out of billing and recognition (a closed-won saga undoing its step)."""
        registered = self._contracts.get(registered_id)
        if registered is None:
            raise UnknownContractError(f"no revenue contract {registered_id}")
        if registered.status == WITHDRAWN:
            return registered
        withdrawn = replace(registered, status=WITHDRAWN)
        self._contracts[registered_id] = withdrawn
        if self._active.get(registered.contract_id) == registered_id:
            del self._active[registered.contract_id]
        self.changes += 1
        return withdrawn

    # -- modifications -----------------------------------------------------------------------------------------

    def modify(
        self, amended: Contract, facts: ModificationFacts, effective: date, recorded_by: str
    ) -> RecordedModification:
        """Take the registered contract to `amended` (its next version) from `effective` on, with the treatment
        `facts` call for (`revenue.modifications`). A cumulative catch-up is posted by the first close that reaches
        the effective date, so a modification recorded ahead of its date never leaks into an earlier period."""
        registered = self.active_registration(amended.contract_id)
        if registered is None:
            raise UnknownContractError(
                f"contract {amended.contract_id} is not registered with the revenue engine: nothing to modify"
            )
        period = self.calendar.period_of(effective)
        if period.key in self._locked:
            raise PeriodLockedError(
                f"contract {amended.contract_id} version {amended.version} takes effect on {effective}, in "
                f"{period.key}, which is locked"
            )
        change = version_change(registered.contract, registered.obligations, amended, effective)
        plans = {o.obligation_id: self._plans[o.obligation_id] for o in registered.obligations}
        result = modify_to_version(registered.obligations, plans, change, facts)
        allocation = version_allocation(change, result, registered.allocation)
        schedules = {plan.obligation_id: schedule(plan, self.calendar) for plan in result.plans}
        modified = replace(registered, contract=amended, allocation=allocation)
        recorded = RecordedModification(
            contract_id=amended.contract_id,
            version=amended.version,
            effective=effective,
            treatment=result.treatment,
            catch_ups=result.catch_ups,
            added=tuple(o.obligation_id for o in change.added),
            changed=change.changed_ids,
            recorded_by=recorded_by,
            previous=registered,
            previous_plans=plans,
            documents_before=len(self._documents),
            closes_before=len(self._closes),
        )
        self.ledger = self.ledger.with_obligations(change.obligations)
        self._contracts[registered.revenue_contract_id] = modified
        self._lines |= {line.obligation.obligation_id: line for line in allocation.lines}
        self._plans |= {plan.obligation_id: plan for plan in result.plans}
        self._schedules |= schedules
        self._modifications.setdefault(amended.contract_id, []).append(recorded)
        self.changes += 1
        return recorded

    def withdraw_modification(self, contract_id: str, recorded_by: str) -> RecordedModification:
        """Put the contract back at the version before the modification `recorded_by` recorded (a saga undoing
        its step); refused once anything was billed or recognised on the modification's terms."""
        position, recorded = self._modification(contract_id, recorded_by)
        if recorded.status == WITHDRAWN:
            return recorded
        self._check_withdrawable(recorded)
        current = self._contracts[recorded.previous.revenue_contract_id]
        restored = replace(recorded.previous, status=current.status)
        plans = {
            line.obligation.obligation_id: self._plan(line)
            if line.obligation.is_variable  # usage charged since stays charged
            else recorded.previous_plans[line.obligation.obligation_id]
            for line in restored.allocation.lines
        }
        withdrawn = replace(recorded, status=WITHDRAWN)
        self.ledger = self.ledger.without_obligations(recorded.added).with_obligations(restored.obligations)
        for obligation_id in recorded.added:
            del self._lines[obligation_id], self._plans[obligation_id], self._schedules[obligation_id]
        self._contracts[restored.revenue_contract_id] = restored
        self._lines |= {line.obligation.obligation_id: line for line in restored.allocation.lines}
        self._plans |= plans
        self._schedules |= {oid: schedule(plan, self.calendar) for oid, plan in plans.items()}
        self._modifications[contract_id][position] = withdrawn
        self.changes += 1
        return withdrawn

    def _unreversed_billing(self, recorded: RecordedModification) -> list[str]:
        """The documents since the modification that billed its lines where the billings do not net to zero: a
        prorated invoice and the credit note reversing it leave nothing, so withdrawing changes no balance."""
        documents = list(self._documents.values())[recorded.documents_before :]
        net: dict[str, Decimal] = {}
        for document in documents:
            sign = 1 if document.kind is DocumentKind.INVOICE else -1
            for line in document.lines:
                if line.obligation_id in recorded.changed:
                    net[line.obligation_id] = net.get(line.obligation_id, Decimal(0)) + sign * line.amount.amount
        unreversed = {obligation_id for obligation_id, amount in net.items() if amount}
        return [d.document_id for d in documents if any(line.obligation_id in unreversed for line in d.lines)]

    def _modification(self, contract_id: str, recorded_by: str) -> tuple[int, RecordedModification]:
        for position, recorded in enumerate(self._modifications.get(contract_id, ())):
            if recorded.recorded_by == recorded_by:
                return position, recorded
        raise UnknownContractError(f"contract {contract_id} has no modification recorded by {recorded_by}")

    def _check_withdrawable(self, recorded: RecordedModification) -> None:
        name = f"contract {recorded.contract_id} version {recorded.version}"
        later = [m for m in self._modifications[recorded.contract_id] if m.status == ACTIVE][-1]
        if later is not recorded:
            raise ModificationInUseError(
                f"{name} cannot be withdrawn: version {later.version} was recorded after it; withdraw that first"
            )
        if used := [oid for oid in recorded.added if oid in self._usage]:
            raise ModificationInUseError(f"{name} cannot be withdrawn: usage was charged on {', '.join(used)}")
        if billed := self._unreversed_billing(recorded):
            raise ModificationBilledError(
                f"{name} cannot be withdrawn yet: {', '.join(billed)} billed what it added or changed and is not "
                "credited back in full; it can be once billing's reversing credit note is recorded"
            )
        closes = list(self._closes.values())[recorded.closes_before :]
        recognised = [
            close.period.key
            for close in closes
            if close.period.end >= recorded.effective and close.entries_of(recorded.contract_id)
        ]
        if recognised or recorded.caught_up_in is not None:
            periods = ", ".join(recognised or [str(recorded.caught_up_in)])
            raise ModificationInUseError(
                f"{name} cannot be withdrawn: revenue was recognised on its terms in {periods}; record a "
                "modification back to the previous terms instead"
            )

    def _catch_ups_due(self, closing: Period) -> tuple[CatchUp, ...]:
        """Catch-ups of active modifications in force by the end of `closing` not posted yet, booked no earlier than
        the period's first day (a modification dated in a period closed already lands in this one)."""
        due = []
        for contract_id in self._active:
            for recorded in self._modifications.get(contract_id, ()):
                if _awaits_catch_up(recorded, closing):
                    due += [replace(c, booked_on=max(c.booked_on, closing.start)) for c in recorded.catch_ups]
        return tuple(due)

    def _mark_caught_up(self, closing: Period) -> None:
        for contract_id in self._active:
            modifications = self._modifications.get(contract_id, [])
            for position, recorded in enumerate(modifications):
                if _awaits_catch_up(recorded, closing):
                    modifications[position] = replace(recorded, caught_up_in=closing.key)

    # -- usage -------------------------------------------------------------------------------------------------

    def billed_usage_charges(self, document: BillingDocument, period: AccountingPeriod) -> tuple[UsageCharge, ...]:
        """The usage charges an invoice's usage lines bring that the book does not have yet (one per month)."""
        registered = self._billable(document, period)
        if document.kind is not DocumentKind.INVOICE:
            return ()
        billed: dict[tuple[str, str], list[tuple[Decimal, Money]]] = {}
        for line in document.lines:
            obligation = registered.obligation(line.obligation_id)
            assert obligation is not None  # `_billable` checked every line
            month = usage_month(line.period_start)
            if not obligation.is_variable or self.usage_charge(obligation.obligation_id, month) is not None:
                continue
            if line.period_start.replace(day=1) > obligation.end or _month_end(month) < obligation.start:
                raise BookError(
                    f"{document.document_id} line {line.line_id} bills usage of {month}, outside the service of "
                    f"{obligation.obligation_id} ({obligation.start}..{obligation.end})"
                )
            billed.setdefault((obligation.obligation_id, month), []).append((line.quantity or Decimal(0), line.amount))
        charges = []
        for (obligation_id, month), parts in billed.items():
            obligation = self.ledger.obligations[obligation_id]
            charges.append(
                UsageCharge(
                    obligation_id=obligation_id,
                    occurred_on=min(_month_end(month), obligation.end),
                    quantity=sum((quantity for quantity, _ in parts), Decimal(0)),
                    amount=sum_money((amount for _, amount in parts), obligation.currency),
                )
            )
        return tuple(charges)

    def metered_usage_charges(self, usage: Sequence[MeteredUsage]) -> tuple[UsageCharge, ...]:
        """Metered usage priced per month (`price_month_of_usage`), except months already charged."""
        seen: set[tuple[str, str]] = set()
        charges = []
        for metered in usage:
            obligation_id = f"{metered.contract_id}#{metered.line_no}"
            registered = self.active_registration(metered.contract_id)
            obligation = None if registered is None else registered.obligation(obligation_id)
            if obligation is None or not obligation.is_variable:
                raise UnknownObligationError(
                    f"metered usage of {metered.period_start}..{metered.period_end} names {obligation_id}, "
                    "which is no usage line of a registered contract"
                )
            month = usage_month(metered.period_start)
            if (obligation_id, month) in seen:
                raise BookError(f"usage of {obligation_id} in {month} is given twice")
            seen.add((obligation_id, month))
            if self.usage_charge(obligation_id, month) is None:
                charges.append(price_month_of_usage(obligation, metered.period_start, metered.quantity))
        return tuple(charges)

    def record_usage(self, charge: UsageCharge) -> UsageCharge:
        """Add a month's usage charge to its obligation's plan: revenue of the month the usage occurred."""
        month = usage_month(charge.occurred_on)
        line = self._lines.get(charge.obligation_id)
        if line is None or not line.obligation.is_variable:
            raise UnknownObligationError(f"{charge.obligation_id} is no usage obligation of a registered contract")
        if self.usage_charge(charge.obligation_id, month) is not None:
            raise BookError(f"{charge.obligation_id} already has a usage charge for {month}")
        charges = {**self._usage.get(charge.obligation_id, {}), month: charge}
        plan = plan_usage(line, charges.values())
        planned = schedule(plan, self.calendar)
        self._usage[charge.obligation_id] = charges
        self._plans[charge.obligation_id] = plan
        self._schedules[charge.obligation_id] = planned
        self.changes += 1
        return charge

    # -- billing and cash --------------------------------------------------------------------------------------

    def record_document(self, document: BillingDocument, period: AccountingPeriod) -> RecordedDocument:
        """Post an invoice or credit note to its contract's obligations; keep the ERP's reclass journal."""
        registered = self._billable(document, period)
        booked_on = booking_date(document, period)
        lines = tuple(BilledLine(line.obligation_id, line.amount) for line in document.lines)
        if document.kind is DocumentKind.INVOICE:
            ledger, entries = post_invoice(
                self.ledger, Invoice(document.document_id, document.contract_id, booked_on, lines)
            )
        else:
            ledger, entries = post_credit_note(
                self.ledger, CreditNote(document.document_id, document.contract_id, booked_on, lines)
            )
        liability_accounts = {o.obligation_id: o.contract_liability_account for o in registered.obligations}
        reclass = reclass_journal(
            document,
            entries,
            liability_accounts,
            legal_entity=registered.legal_entity,
            booked_on=booked_on,
            period_id=period.period_id,
            chart=self.chart,
        )
        recorded = RecordedDocument(
            document_id=document.document_id,
            kind=document.kind,
            number=document.number,
            contract_id=document.contract_id,
            issued_on=document.issued_on,
            booked_on=booked_on,
            lines=tuple(_recorded_line(line) for line in document.lines),
            total=document.total,
            entries=entries,
            reclass=reclass,
        )
        self.ledger = ledger
        self._documents[document.document_id] = recorded
        self._journal += entries
        self.changes += 1
        return recorded

    def record_payment(self, payment: BillingPayment) -> RecordedPayment:
        if payment.payment_id in self._payments:
            raise BookError(f"payment {payment.payment_id} is recorded already")
        registered_id = self._latest.get(payment.contract_id)
        if registered_id is None:
            raise AwaitingRegistrationError(
                f"payment {payment.payment_id} of invoice {payment.invoice_id}: contract {payment.contract_id} "
                "is not registered with the revenue engine (yet)"
            )
        currency = self._contracts[registered_id].contract.currency
        if payment.amount.currency != currency:
            raise BookError(f"payment {payment.payment_id} is in {payment.amount.currency}, its contract in {currency}")
        ledger, entries = post_payment(
            self.ledger, Payment(payment.payment_id, payment.contract_id, payment.paid_on, payment.amount)
        )
        recorded = RecordedPayment(
            payment.payment_id, payment.invoice_id, payment.contract_id, payment.paid_on, payment.amount, entries
        )
        self.ledger = ledger
        self._payments[payment.payment_id] = recorded
        self._journal += entries
        self.changes += 1
        return recorded

    # -- closing -----------------------------------------------------------------------------------------------

    def check_recognisable(self, period: AccountingPeriod) -> Period:
        """The calendar period to recognise; PeriodLockedError if it is locked and was not recognised before."""
        closing = self.period_of(period)
        if closing.key in self._locked and closing.key not in self._closes:
            raise PeriodLockedError(f"period {closing.key} is locked: no more revenue can be recognised in it")
        return closing

    def recognise(self, period: AccountingPeriod) -> PeriodClose:
        """Recognise every active contract through the end of the calendar period containing `period.end`.

        A period recognised already gives its close again and changes nothing; a locked one is refused. The close
        also posts the cumulative catch-ups of modifications in force by the period's end, so the ERP's journals
        carry them with the month's revenue.
        """
        closing = self.check_recognisable(period)
        if closing.key in self._closes:
            return self._closes[closing.key]
        schedules = [s for s in self._schedules.values() if s.contract_id in self._active]
        ledger, caught_up = post_catch_ups(self.ledger, self._catch_ups_due(closing))
        ledger, recognised_entries = close_period(ledger, schedules, closing.key) if schedules else (ledger, ())
        entries = (*caught_up, *recognised_entries)
        recognised = {
            obligation_id: amount - self.ledger.recognised_for(obligation_id)
            for obligation_id, amount in ledger.recognised.items()
            if amount != self.ledger.recognised_for(obligation_id)
        }
        entities = {entry.contract_id: self.legal_entity_of(entry.contract_id) for entry in entries}
        close = PeriodClose(
            closing, period, entries, recognised, close_journals(entries, entities, period, closing.key)
        )
        self.ledger = ledger
        self._closes[closing.key] = close
        self._journal += entries
        self._mark_caught_up(closing)
        self.changes += 1
        return close

    def lock(self, period: AccountingPeriod) -> Period:
        """No more recognition into the period, nor billings booked in it."""
        locking = self.period_of(period)
        if locking.key not in self._locked:
            self._locked.add(locking.key)
            self.changes += 1
        return locking

    # -- checks ------------------------------------------------------------------------------------------------

    def _billable(self, document: BillingDocument, period: AccountingPeriod) -> RegisteredContract:
        """The active registration the document bills; refuses a locked period, a stranger, a line of no one."""
        if document.document_id in self._documents:
            raise BookError(f"{document.document_id} is recorded already")
        booked_in = self.calendar.period_of(booking_date(document, period))
        if booked_in.key in self._locked:
            raise PeriodLockedError(
                f"{document.document_id} would be booked in {booked_in.key}, which is locked; post it in an open period"
            )
        registered = self.active_registration(document.contract_id)
        if registered is None:
            raise AwaitingRegistrationError(
                f"{document.document_id}: contract {document.contract_id} is not registered with the revenue engine "
                "(yet)"
            )
        if document.currency != registered.contract.currency:
            raise BookError(
                f"{document.document_id} is in {document.currency}, contract {document.contract_id} in "
                f"{registered.contract.currency}"
            )
        last_line = max(line.line_no for line in registered.contract.lines)
        for line in document.lines:
            if registered.obligation(line.obligation_id) is None and line.line_no > last_line:
                raise AwaitingAmendmentError(
                    f"{document.document_id} line {line.line_id} bills line {line.line_no} ({line.product_code}), "
                    f"which contract {document.contract_id} v{registered.contract.version} does not have yet: "
                    "waiting for the amendment that adds it"
                )
            if registered.obligation(line.obligation_id) is None:
                raise UnknownObligationError(
                    f"{document.document_id} line {line.line_id}: contract {document.contract_id} has no line "
                    f"{line.line_no} ({line.product_code})"
                )
        return registered

    def _plan(self, line: AllocatedObligation) -> RevenuePlan:
        obligation_id = line.obligation.obligation_id
        if line.obligation.is_variable:
            return plan_usage(line, self._usage.get(obligation_id, {}).values())
        return plan_obligation(line)


def _awaits_catch_up(recorded: RecordedModification, closing: Period) -> bool:
    """An active modification in force by the end of `closing` whose catch-ups no close has posted yet."""
    return recorded.status == ACTIVE and recorded.caught_up_in is None and recorded.effective <= closing.end


def _recorded_line(line: DocumentLine) -> RecordedLine:
    return RecordedLine(
        line.line_id, line.obligation_id, line.product_code, line.period_start, line.period_end, line.amount
    )


def _month_end(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, gregorian.monthrange(year, number)[1])
