"""Contract balances and the journals that move them.

The ledger keeps, per obligation, what was billed and what was recognised, and per contract what was received.
Every balance follows from those (ASC 606-10-45-1..4), per contract:

- usage billed ahead of its revenue is negative → an unbilled receivable (the right to consideration is
  unconditional once the usage occurs; only the invoice is missing);
- everything else nets into one contract position: billed ahead of revenue → contract liability, revenue
  ahead of billing → contract asset;
- receivable = billed − received; cash = received; revenue per the products' revenue accounts.

So billed − recognised = contract liability − contract asset − unbilled receivable, always. An event's journal
is the change in those account balances, which is why every entry balances; `JournalEntry` refuses one that
does not anyway. Events are pure: each returns a new ledger and its entries (none when nothing changed).

A credit note changes what was billed, not what was earned: a concession that changes the transaction price is
a modification (`modifications.PriceConcession`) or a negative usage charge, so plans and ledger agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from canonical.money import Money, sum_money
from revenue.exchange import Translation
from revenue.journal import ChartOfAccounts, EntryKind, JournalEntry, Posting, translated
from revenue.modifications import CatchUp
from revenue.obligations import PerformanceObligation
from revenue.recognition import Schedule

__all__ = [
    "BilledLine",
    "ContractBalances",
    "CreditNote",
    "Invoice",
    "Ledger",
    "Payment",
    "close_period",
    "post_catch_ups",
    "post_credit_note",
    "post_invoice",
    "post_payment",
    "post_revenue",
]


@dataclass(frozen=True, slots=True)
class BilledLine:
    obligation_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    document_id: str
    contract_id: str
    issued_on: date
    lines: tuple[BilledLine, ...]


@dataclass(frozen=True, slots=True)
class CreditNote:
    document_id: str
    contract_id: str
    issued_on: date
    lines: tuple[BilledLine, ...]  # positive amounts: what is credited back


@dataclass(frozen=True, slots=True)
class Payment:
    document_id: str
    contract_id: str
    received_on: date
    amount: Money


@dataclass(frozen=True, slots=True)
class ContractBalances:
    contract_id: str  # "*" for a total
    currency: str
    billed: Money
    recognised: Money
    receivable: Money
    unbilled_receivable: Money
    contract_asset: Money
    contract_liability: Money
    cash: Money
    revenue_by_account: tuple[tuple[str, Money], ...]

    @property
    def revenue(self) -> Money:
        return sum_money((amount for _, amount in self.revenue_by_account), self.currency)


@dataclass(frozen=True)
class Ledger:
    obligations: Mapping[str, PerformanceObligation]
    chart: ChartOfAccounts = field(default_factory=ChartOfAccounts)
    translation: Translation | None = None
    billed: Mapping[str, Money] = field(default_factory=dict)  # per obligation
    recognised: Mapping[str, Money] = field(default_factory=dict)  # per obligation
    received: Mapping[str, Money] = field(default_factory=dict)  # per contract
    # Obligations by contract, built once and carried over by `replace`, so events don't rescan every contract.
    by_contract: Mapping[str, tuple[PerformanceObligation, ...]] | None = field(default=None, repr=False)
    closed_through: date | None = None  # end of the latest period closed

    def __post_init__(self) -> None:
        if self.by_contract is None:
            index: dict[str, tuple[PerformanceObligation, ...]] = {}
            for obligation in self.obligations.values():
                index[obligation.contract_id] = (*index.get(obligation.contract_id, ()), obligation)
            object.__setattr__(self, "by_contract", index)

    @classmethod
    def open(
        cls,
        obligations: Iterable[PerformanceObligation],
        *,
        chart: ChartOfAccounts | None = None,
        translation: Translation | None = None,
    ) -> Ledger:
        return cls({o.obligation_id: o for o in obligations}, chart or ChartOfAccounts(), translation)

    def with_obligations(self, obligations: Iterable[PerformanceObligation]) -> Ledger:
        """Register obligations a modification added or re-termed (same id: the newer terms win)."""
        updated = {**self.obligations, **{o.obligation_id: o for o in obligations}}
        return replace(self, obligations=updated, by_contract=None)

    def without_obligations(self, obligation_ids: Iterable[str]) -> Ledger:
        """Drop obligations with no revenue whose billings net to zero (a withdrawn modification's added lines,
        their prorated invoice credited back in full)."""
        dropped = set(obligation_ids)
        used = sorted(
            oid for oid in dropped if oid in self.recognised or (oid in self.billed and self.billed[oid].amount)
        )
        if used:
            raise ValueError(f"{', '.join(used)} has billings or revenue in the ledger: it cannot be dropped")
        kept = {oid: o for oid, o in self.obligations.items() if oid not in dropped}
        billed = {oid: amount for oid, amount in self.billed.items() if oid not in dropped}
        return replace(self, obligations=kept, billed=billed, by_contract=None)

    @property
    def contract_ids(self) -> tuple[str, ...]:
        return tuple(self._index)

    def obligations_of(self, contract_id: str) -> tuple[PerformanceObligation, ...]:
        try:
            return self._index[contract_id]
        except KeyError:
            raise KeyError(f"the ledger has no contract {contract_id}") from None

    @property
    def _index(self) -> Mapping[str, tuple[PerformanceObligation, ...]]:
        assert self.by_contract is not None  # set by __post_init__
        return self.by_contract

    def billed_for(self, obligation_id: str) -> Money:
        return self.billed.get(obligation_id) or Money.zero(self.obligations[obligation_id].currency)

    def recognised_for(self, obligation_id: str) -> Money:
        return self.recognised.get(obligation_id) or Money.zero(self.obligations[obligation_id].currency)

    def balances(self, contract_id: str) -> ContractBalances:
        obligations = self.obligations_of(contract_id)
        return _balances(contract_id, obligations, self.billed, self.recognised, self.received)

    def total_balances(self, currency: str) -> ContractBalances:
        """All contracts in `currency`, each netted on its own before adding up (no netting across contracts)."""
        parts = [self.balances(c) for c in self.contract_ids if self.obligations_of(c)[0].currency == currency]
        revenue: dict[str, Money] = {}
        for part in parts:
            for account, amount in part.revenue_by_account:
                revenue[account] = revenue.get(account, Money.zero(currency)) + amount

        def total(name: str) -> Money:
            amounts: Iterable[Money] = (getattr(p, name) for p in parts)
            return sum_money(amounts, currency)

        return ContractBalances(
            contract_id="*",
            currency=currency,
            billed=total("billed"),
            recognised=total("recognised"),
            receivable=total("receivable"),
            unbilled_receivable=total("unbilled_receivable"),
            contract_asset=total("contract_asset"),
            contract_liability=total("contract_liability"),
            cash=total("cash"),
            revenue_by_account=tuple(sorted(revenue.items())),
        )


def post_invoice(ledger: Ledger, invoice: Invoice) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """Dr receivable / Cr contract liability, contract asset (revenue came first) or unbilled receivable (usage)."""
    billed = _added(ledger, invoice.contract_id, ledger.billed, invoice.lines, 1)
    memo = f"invoice {invoice.document_id}"
    return _post(
        ledger, replace(ledger, billed=billed), invoice.contract_id, invoice.issued_on, EntryKind.INVOICE, memo
    )


def post_credit_note(ledger: Ledger, note: CreditNote) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """The mirror of an invoice: Dr contract liability / asset / unbilled receivable, Cr receivable."""
    billed = _added(ledger, note.contract_id, ledger.billed, note.lines, -1)
    memo = f"credit note {note.document_id}"
    return _post(ledger, replace(ledger, billed=billed), note.contract_id, note.issued_on, EntryKind.CREDIT_NOTE, memo)


def post_payment(ledger: Ledger, payment: Payment) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """Dr cash / Cr receivable."""
    currency = ledger.obligations_of(payment.contract_id)[0].currency
    before = ledger.received.get(payment.contract_id) or Money.zero(currency)
    received = {**ledger.received, payment.contract_id: before + payment.amount}
    memo = f"payment {payment.document_id}"
    after = replace(ledger, received=received)
    return _post(ledger, after, payment.contract_id, payment.received_on, EntryKind.PAYMENT, memo)


def post_revenue(
    ledger: Ledger,
    contract_id: str,
    booked_on: date,
    amounts: Mapping[str, Money],
    *,
    kind: EntryKind = EntryKind.RECOGNITION,
    memo: str = "revenue recognised",
) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """Cr revenue / Dr contract liability, or contract asset beyond it; usage Dr unbilled receivable."""
    lines = tuple(BilledLine(oid, amount) for oid, amount in amounts.items())
    recognised = _added(ledger, contract_id, ledger.recognised, lines, 1)
    return _post(ledger, replace(ledger, recognised=recognised), contract_id, booked_on, kind, memo)


def post_catch_ups(ledger: Ledger, catch_ups: Iterable[CatchUp]) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """A modification's cumulative catch-ups and concessions, one entry per contract and day."""
    grouped: dict[tuple[str, date], dict[str, Money]] = {}
    for catch_up in catch_ups:
        amounts = grouped.setdefault((catch_up.contract_id, catch_up.booked_on), {})
        amounts[catch_up.obligation_id] = amounts.get(catch_up.obligation_id, Money.zero(catch_up.amount.currency))
        amounts[catch_up.obligation_id] += catch_up.amount
    entries: list[JournalEntry] = []
    for (contract_id, booked_on), amounts in grouped.items():
        memo = "contract modification: cumulative catch-up"
        ledger, posted = post_revenue(ledger, contract_id, booked_on, amounts, kind=EntryKind.CATCH_UP, memo=memo)
        entries += posted
    return ledger, tuple(entries)


def recognition_due(ledger: Ledger, schedules: Iterable[Schedule], period_key: str) -> dict[str, dict[str, Money]]:
    """Per contract and obligation: what the schedules say is recognised by the period's end, less what is."""
    due: dict[str, dict[str, Money]] = {}
    for item in schedules:
        cumulative = item.cumulative_through(period_key)
        if item.obligation_id not in ledger.obligations:
            if cumulative.is_zero:
                continue  # an obligation a later modification adds: nothing to recognise yet
            raise KeyError(f"{item.obligation_id} has revenue due but is not in the ledger; register it first")
        amount = cumulative - ledger.recognised_for(item.obligation_id)
        if not amount.is_zero:
            due.setdefault(item.contract_id, {})[item.obligation_id] = amount
    return due


def close_period(
    ledger: Ledger, schedules: Iterable[Schedule], period_key: str
) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    """Recognise every contract up to the end of `period_key`, one entry per contract.

    Cumulative, so idempotent: closing the same period again finds nothing due and changes nothing. A period
    before the latest one closed is closed already: that is a no-op too, rather than a reversal of later revenue.
    """
    schedules = tuple(schedules)
    if not schedules:
        return ledger, ()
    period = schedules[0].calendar.period(period_key)
    if ledger.closed_through is not None and period.end < ledger.closed_through:
        return ledger, ()
    due = recognition_due(ledger, schedules, period_key)
    # One copy of the totals for the whole close, updated contract by contract (a copy per contract would make
    # closing n contracts cost n²); `view` shares it, and nothing outside this function sees it change.
    recognised = dict(ledger.recognised)
    view = replace(ledger, recognised=recognised, closed_through=period.end)
    entries: list[JournalEntry] = []
    for contract_id, amounts in due.items():
        before = _accounts(view, contract_id)
        for obligation_id, amount in amounts.items():
            recognised[obligation_id] = view.recognised_for(obligation_id) + amount
        memo = f"revenue recognised through {period_key}"
        entries += _entries(before, view, contract_id, period.end, EntryKind.RECOGNITION, memo)
    return view, tuple(entries)


def _added(
    ledger: Ledger, contract_id: str, totals: Mapping[str, Money], lines: Iterable[BilledLine], sign: int
) -> dict[str, Money]:
    updated = dict(totals)
    for line in lines:
        obligation = ledger.obligations.get(line.obligation_id)
        if obligation is None or obligation.contract_id != contract_id:
            raise ValueError(f"{line.obligation_id} is not an obligation of contract {contract_id}")
        if not line.amount.is_rounded or line.amount.currency != obligation.currency:
            raise ValueError(f"{line.obligation_id}: {line.amount} is not an amount in {obligation.currency} cents")
        updated[line.obligation_id] = (
            updated.get(line.obligation_id, Money.zero(obligation.currency)) + line.amount * sign
        )
    return updated


def _post(
    before: Ledger, after: Ledger, contract_id: str, booked_on: date, kind: EntryKind, memo: str
) -> tuple[Ledger, tuple[JournalEntry, ...]]:
    return after, _entries(_accounts(before, contract_id), after, contract_id, booked_on, kind, memo)


def _entries(
    old: Mapping[str, Money], after: Ledger, contract_id: str, booked_on: date, kind: EntryKind, memo: str
) -> tuple[JournalEntry, ...]:
    """The entry moving the contract's accounts from `old` to their balances in `after` (none if unchanged)."""
    new = _accounts(after, contract_id)
    currency = after.obligations_of(contract_id)[0].currency
    postings = [
        Posting(account, new.get(account, Money.zero(currency)) - old.get(account, Money.zero(currency)))
        for account in dict.fromkeys([*old, *new])
    ]
    postings = [p for p in postings if not p.amount.is_zero]
    if not postings:
        return ()
    return (JournalEntry(contract_id, booked_on, kind, memo, translated(postings, after.translation, booked_on)),)


def _accounts(ledger: Ledger, contract_id: str) -> dict[str, Money]:
    """The contract's account balances, debit positive, in a stable order (balance sheet, then revenue)."""
    balances = ledger.balances(contract_id)
    chart = ledger.chart
    accounts = {
        chart.cash: balances.cash,
        chart.receivable: balances.receivable,
        chart.unbilled_receivable: balances.unbilled_receivable,
        chart.contract_asset: balances.contract_asset,
        chart.contract_liability: -balances.contract_liability,
    }
    for account, amount in balances.revenue_by_account:
        accounts[account] = accounts.get(account, Money.zero(balances.currency)) - amount
    return accounts


def _balances(
    contract_id: str,
    obligations: tuple[PerformanceObligation, ...],
    billed: Mapping[str, Money],
    recognised: Mapping[str, Money],
    received: Mapping[str, Money],
) -> ContractBalances:
    currency = obligations[0].currency
    zero = Money.zero(currency)

    def total(amounts: Mapping[str, Money], variable: bool) -> Money:
        ids = (o.obligation_id for o in obligations if o.is_variable is variable)
        return sum_money((amounts.get(oid, zero) for oid in ids), currency)

    fixed_position = total(billed, False) - total(recognised, False)
    usage_position = total(billed, True) - total(recognised, True)
    net = fixed_position + max(usage_position, zero)  # usage billed ahead of use is a contract liability too
    revenue: dict[str, Money] = {}
    for obligation in obligations:
        account = obligation.revenue_account
        revenue[account] = revenue.get(account, zero) + recognised.get(obligation.obligation_id, zero)
    billed_total = total(billed, False) + total(billed, True)
    cash = received.get(contract_id, zero)
    return ContractBalances(
        contract_id=contract_id,
        currency=currency,
        billed=billed_total,
        recognised=total(recognised, False) + total(recognised, True),
        receivable=billed_total - cash,
        unbilled_receivable=max(-usage_position, zero),
        contract_asset=max(-net, zero),
        contract_liability=max(net, zero),
        cash=cash,
        revenue_by_account=tuple(sorted(revenue.items())),
    )
