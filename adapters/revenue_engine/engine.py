"""q2c's built-in ASC 606 engine behind the revenue ports (`RevenuePort`, `RevenueLedgerPort`,
`RevenueModificationPort`), its events kept in q2c's database.

Every change is an event (`events.EventKind`) appended to the `revenue_events` table; the engine's state, a
`revenue.book.RevenueBook`, is the fold of those events. It is rebuilt when the engine opens and kept in memory
after that; before every call the engine reads only the events numbered above the last one it has seen, so
several workers on one database see each other's work.

Every method is idempotent through its event: a key already stored returns the outcome stored with it, and the
same business event under another key (a document, a payment, a period's close or lock, a contract version)
returns the first's.
Writers decide on the state they have read and append right after it; if another worker appended first, the
append collides and the engine reads that worker's events and decides again (so an invoice's journal is always
computed on the balances it is booked on).

What the book refuses becomes a `PermanentAdapterError` with the category of the team that can fix it: an unknown
contract or obligation is master data, a locked period a closed period, an allocation the engine cannot make a
missing mapping (finance fixes the SSPs), a contract version that does not follow the registered one a missing
amendment reference, a modification that cannot be withdrawn any more a system rejection (finance reverses it by
hand), anything else invalid data. Database trouble is transient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from adapters.errors import NotFoundError, OutOfOrderError, PermanentAdapterError, TransientAdapterError
from adapters.revenue_engine import events
from adapters.revenue_engine.event_log import EventConflict, RevenueEventLog
from adapters.revenue_engine.events import EventKind, RevenueEvent
from adapters.store.database import sqlite_url
from canonical.amendment import Amendment, ContractOnRecord, ModificationOutcome
from canonical.billing_documents import BillingDocument, BillingPayment, MeteredUsage, UsageLine
from canonical.contract import Contract
from canonical.general_ledger import AccountingPeriod, JournalEntryPosting
from canonical.money import Money
from canonical.problems import ExceptionCategory
from canonical.references import RevenueContractRef, System
from revenue.allocation import AllocationError
from revenue.book import (
    WITHDRAWN,
    AwaitingAmendmentError,
    AwaitingRegistrationError,
    ModificationBilledError,
    ModificationInUseError,
    PeriodClose,
    PeriodLockedError,
    RegisteredContract,
    RevenueBook,
    RevenueSnapshot,
    UnknownContractError,
    UnknownObligationError,
    revenue_contract_id,
)
from revenue.calendar import AccountingCalendar, calendar_months
from revenue.contract_versions import StaleVersionError
from revenue.journal import ChartOfAccounts
from revenue.ledger import ContractBalances
from revenue.year_end import year_export

IN_MEMORY = "sqlite+aiosqlite://"
# Calendar months over any contract q2c will see; a schedule only touches the periods its service spans.
DEFAULT_CALENDAR = calendar_months(date(2000, 1, 1), date(2099, 12, 31))
MAX_ATTEMPTS = 20  # appends that lose the race to another worker before giving up (transient)

T = TypeVar("T")
Decision = tuple[list[RevenueEvent], Any]  # the events to append, and the outcome when there are none
Subject = str | None | Callable[[], str | None]  # a subject, or how to name it on the state just read


class BuiltInRevenueEngine:
    """RevenuePort, RevenueLedgerPort and RevenueModificationPort on q2c's own ASC 606 engine, persisted as events.

    `database_url` is an `adapters.store` URL (`sqlite+aiosqlite:///file` or `postgresql+asyncpg://...`, in
    `schema` on PostgreSQL); the default is an in-memory SQLite database, which lasts as long as the engine. The
    engine opens (migrating the database and reading its events) on `open()` or on first use; `aclose()` ends it.
    """

    def __init__(
        self,
        database_url: str = IN_MEMORY,
        *,
        schema: str | None = None,
        calendar: AccountingCalendar = DEFAULT_CALENDAR,
        chart: ChartOfAccounts | None = None,
    ) -> None:
        self._url = database_url
        self._schema = schema
        self._calendar = calendar
        self._chart = chart or ChartOfAccounts()
        self._log: RevenueEventLog | None = None
        self._lock = asyncio.Lock()
        self._reset()

    @classmethod
    async def on_sqlite_file(
        cls, path: Path | str, *, calendar: AccountingCalendar = DEFAULT_CALENDAR
    ) -> BuiltInRevenueEngine:
        """An engine on the SQLite database at `path` (created if need be), opened."""
        engine = cls(sqlite_url(path), calendar=calendar)
        await engine.open()
        return engine

    async def open(self) -> None:
        """Migrate the database if need be and fold its events into the book."""
        await self.refresh()

    async def aclose(self) -> None:
        """Disconnect; what the engine had read stays readable (`contracts`) until it is used again."""
        async with self._lock:
            if self._log is not None:
                await self._log.close()
                self._log = None

    async def __aenter__(self) -> BuiltInRevenueEngine:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def calendar(self) -> AccountingCalendar:
        return self._calendar

    @property
    def contracts(self) -> Mapping[str, RegisteredContract]:
        """The registrations as of the last call, by revenue contract ID."""
        return self._book.contracts

    # -- RevenuePort ---------------------------------------------------------------------------------------------

    async def register_contract(
        self, contract: Contract, billing_subscription_id: str, idempotency_key: str
    ) -> RevenueContractRef:
        """Identify the obligations and allocate the price; a contract registered and active already (under
        another key) is returned as it is, and that key cannot withdraw it."""

        def decide() -> Decision:
            active = self._book.active_registration(contract.contract_id)
            if active is not None and active.revenue_contract_id == revenue_contract_id(contract):
                return [], {"revenue_contract_id": active.revenue_contract_id, "obligations": len(active.obligations)}
            return self._applied([events.contract_registered(idempotency_key, contract, billing_subscription_id)])

        key = events.stored_key(EventKind.CONTRACT_REGISTERED, idempotency_key)
        outcome = await self._write(key, None, decide, record=contract.contract_id)
        return RevenueContractRef.model_validate(outcome)

    async def withdraw_contract_registered_by(self, idempotency_key: str) -> str | None:
        registration = events.stored_key(EventKind.CONTRACT_REGISTERED, idempotency_key)

        def decide() -> Decision:
            registered = self._outcomes.get(registration)
            if registered is None:
                return [], {"revenue_contract_id": None}
            registered_id = registered["revenue_contract_id"]
            current = self._book.contracts[registered_id]
            if current.status == WITHDRAWN or current.registered_by != idempotency_key:
                return [], {"revenue_contract_id": registered_id}
            return self._applied([events.contract_withdrawn(idempotency_key, registered_id)])

        key = events.stored_key(EventKind.CONTRACT_WITHDRAWN, idempotency_key)
        outcome = await self._write(key, None, decide, record=idempotency_key)
        withdrawn: str | None = outcome["revenue_contract_id"]
        return withdrawn

    # -- RevenueLedgerPort ---------------------------------------------------------------------------------------

    async def record_billing(
        self, document: BillingDocument, period: AccountingPeriod, idempotency_key: str
    ) -> JournalEntryPosting | None:
        """Post the document to its contract's obligations (a usage line not charged yet for its month charges it
        at the billed amount); the journal that moves the ERP's booking to where the engine books it, if any."""

        def decide() -> Decision:
            charges = self._book.billed_usage_charges(document, period)
            source = f"billed on {document.document_id}"
            usage = [events.usage_charge_recorded(idempotency_key, charge, source) for charge in charges]
            return self._applied([*usage, events.billing_recorded(idempotency_key, document, period)])

        key = events.stored_key(EventKind.BILLING_RECORDED, idempotency_key)
        subject = events.document_subject(document.document_id)
        outcome = await self._write(key, subject, decide, record=document.document_id)
        reclass = outcome["reclass"]
        return None if reclass is None else JournalEntryPosting.model_validate(reclass)

    async def record_payment(self, payment: BillingPayment, idempotency_key: str) -> None:
        def decide() -> Decision:
            return self._applied([events.payment_recorded(idempotency_key, payment)])

        key = events.stored_key(EventKind.PAYMENT_RECORDED, idempotency_key)
        await self._write(key, events.payment_subject(payment.payment_id), decide, record=payment.payment_id)

    async def usage_lines(self, start: date, end: date) -> tuple[UsageLine, ...]:
        return await self._read(lambda book: book.usage_lines(start, end))

    async def recognise_period(
        self, period: AccountingPeriod, usage: tuple[MeteredUsage, ...], idempotency_key: str
    ) -> tuple[JournalEntryPosting, ...]:
        """Charge the metered usage not charged yet, recognise every active contract through the end of the
        calendar period containing `period.end`, and return one journal per legal entity and currency."""
        period_key = self._period_key(period)

        def decide() -> Decision:
            self._book.check_recognisable(period)
            charges = self._book.metered_usage_charges(usage)
            metered = [events.usage_charge_recorded(idempotency_key, charge, "metered") for charge in charges]
            return self._applied([*metered, events.period_recognised(idempotency_key, period, period_key)])

        key = events.stored_key(EventKind.PERIOD_RECOGNISED, idempotency_key)
        subject = events.recognised_subject(period_key)
        outcome = await self._write(key, subject, decide, record=f"period {period_key}")
        return tuple(JournalEntryPosting.model_validate(journal) for journal in outcome["journals"])

    async def lock_period(self, period: AccountingPeriod, idempotency_key: str) -> None:
        period_key = self._period_key(period)

        def decide() -> Decision:
            return self._applied([events.period_locked(idempotency_key, period, period_key)])

        key = events.stored_key(EventKind.PERIOD_LOCKED, idempotency_key)
        await self._write(key, events.locked_subject(period_key), decide, record=f"period {period_key}")

    # -- RevenueModificationPort ---------------------------------------------------------------------------------

    async def contract_on_record(self, contract_id: str) -> ContractOnRecord:
        """The contract's active registration at its latest version; NotFoundError if it has none."""
        registered = await self._read(lambda book: book.active_registration(contract_id))
        if registered is None:
            raise NotFoundError(System.REVENUE, f"contract {contract_id} is not registered with the revenue engine")
        return ContractOnRecord(
            contract=registered.contract,
            revenue_contract_id=registered.revenue_contract_id,
            billing_subscription_id=registered.billing_subscription_id,
        )

    async def record_modification(
        self, amended: Contract, amendment: Amendment, idempotency_key: str
    ) -> ModificationOutcome:
        """Take the registered contract to `amended` (version n + 1, made by `amendment` from version n) with the
        treatment the amendment's facts call for. The same version recorded already under another key returns
        that record; a different amendment to a version recorded already is stale and refused."""
        record = f"amendment {amendment.amendment_id}"

        def subject() -> str:
            withdrawn = sum(
                1
                for recorded in self._book.modifications_of(amended.contract_id)
                if recorded.version == amended.version and recorded.status == WITHDRAWN
            )
            return events.modification_subject(amended.contract_id, amended.version, withdrawn)

        def decide() -> Decision:
            _check_amendment(amended, amendment)
            return self._applied([events.contract_modified(idempotency_key, amended, amendment, subject())])

        key = events.stored_key(EventKind.CONTRACT_MODIFIED, idempotency_key)
        outcome = await self._write(key, subject, decide, record=record)
        if outcome["amendment_id"] != amendment.amendment_id:
            raise PermanentAdapterError(
                System.REVENUE,
                f"{record}: contract {amended.contract_id} version {amended.version} was recorded already from "
                f"amendment {outcome['amendment_id']}; amend the contract's current version",
                ExceptionCategory.MISSING_AMENDMENT_REFERENCE,
            )
        catch_up = outcome["catch_up"]
        return ModificationOutcome(
            revenue_contract_id=outcome["revenue_contract_id"],
            treatment=outcome["treatment"],
            catch_up=None if catch_up is None else Money.model_validate(catch_up),
        )

    async def withdraw_modification_recorded_by(self, idempotency_key: str) -> str | None:
        """Put the contract back at the version before the modification this key recorded, if nothing was billed
        or recognised on its terms since (else PermanentAdapterError); the revenue contract's ID, or None if the key
        recorded no modification."""
        recorded_key = events.stored_key(EventKind.CONTRACT_MODIFIED, idempotency_key)

        def decide() -> Decision:
            recorded = self._outcomes.get(recorded_key)
            if recorded is None:
                return [], {"revenue_contract_id": None}
            return self._applied([events.modification_withdrawn(idempotency_key, recorded["contract_id"])])

        key = events.stored_key(EventKind.MODIFICATION_WITHDRAWN, idempotency_key)
        outcome = await self._write(key, None, decide, record=f"the modification recorded by {idempotency_key}")
        withdrawn: str | None = outcome["revenue_contract_id"]
        return withdrawn

    # -- reading, for reports ------------------------------------------------------------------------------------

    async def snapshot(self) -> RevenueSnapshot:
        """The ledger, every schedule, every journal entry and the calendar: the inputs of `revenue.reports`."""
        return await self._read(lambda book: book.snapshot())

    async def balances(self, contract_id: str) -> ContractBalances:
        """One contract's balances (KeyError if the engine has no such contract)."""
        return await self._read(lambda book: book.balances(contract_id))

    async def total_balances(self, currency: str) -> ContractBalances:
        return await self._read(lambda book: book.total_balances(currency))

    async def period_close(self, period: AccountingPeriod | str) -> PeriodClose | None:
        """A recognised period's close with its per-contract entries (the drill-down); None if not recognised.
        `period` is an ERP accounting period or a calendar period key such as "2027-03"."""
        period_key = period if isinstance(period, str) else self._calendar.period_of(period.end).key
        return await self._read(lambda book: book.closes.get(period_key))

    async def year_export(self, first_day: date, last_day: date) -> dict[str, Any]:
        """JSON-ready: billing documents, revenue by month and obligation, year-end balances (`revenue.year_end`)."""
        return await self._read(lambda book: year_export(book, first_day, last_day))

    async def balances_by_account(self, currency: str | None = None) -> dict[str, Decimal]:
        """Net balance per GL account, debit positive: cash, receivable, unbilled receivable, contract asset,
        contract liability and each revenue account; in `currency` (default: the only one the engine has)."""
        return await self._read(lambda book: book.balances_by_account(currency))

    async def refresh(self) -> None:
        """Read the events other workers appended since the last call."""
        await self._read(lambda book: None)

    # -- the event log -------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._book = RevenueBook(self._calendar, self._chart)
        self._last = 0  # the sequence number of the last event folded into the book
        self._outcomes: dict[str, Any] = {}  # stored key → outcome
        self._subjects: dict[str, str] = {}  # subject → stored key
        self._stale = False  # the book holds changes that did not reach the database: rebuild it

    async def _opened(self) -> RevenueEventLog:
        if self._log is None:
            try:
                self._log = await RevenueEventLog.open(self._url, schema=self._schema)
            except (SQLAlchemyError, OSError) as error:
                raise TransientAdapterError(System.REVENUE, f"cannot open the revenue database: {error}") from error
            self._reset()
        return self._log

    async def _read(self, question: Callable[[RevenueBook], T]) -> T:
        async with self._lock:
            await self._catch_up(await self._opened())
            return question(self._book)

    async def _write(self, key: str, subject: Subject, decide: Callable[[], Decision], *, record: str) -> Any:
        """The outcome stored under `key` (or `subject`); else decide, append and return the new outcome."""
        async with self._lock:
            log = await self._opened()
            for _ in range(MAX_ATTEMPTS):
                await self._catch_up(log)
                if key in self._outcomes:
                    return self._outcomes[key]
                named = subject() if callable(subject) else subject
                if named is not None and named in self._subjects:
                    return self._outcomes[self._subjects[named]]
                new, outcome = self._decided(decide, record)
                if not new:
                    return outcome
                try:
                    await _transient(log.append(self._last, new))
                except EventConflict:
                    self._stale = True  # another worker appended first: read theirs and decide again
                    continue
                except BaseException:
                    self._stale = True
                    raise
                for event in new:
                    self._remember(event)
                self._last += len(new)
                return outcome
            raise TransientAdapterError(System.REVENUE, f"{record}: other workers kept appending first; try again")

    def _decided(self, decide: Callable[[], Decision], record: str) -> Decision:
        changes = self._book.changes
        try:
            return decide()
        except BaseException as error:
            if self._book.changes != changes:
                self._stale = True  # part of the decision reached the book
            if isinstance(error, ModificationBilledError):  # billing's reversing credit note is on its way
                raise TransientAdapterError(System.REVENUE, f"{record}: {error}") from error
            if isinstance(error, AwaitingAmendmentError | AwaitingRegistrationError):  # arrived early: wait
                raise OutOfOrderError(System.REVENUE, str(error), ExceptionCategory.MASTER_DATA_MISMATCH) from error
            if isinstance(error, ValueError):
                raise _refusal(record, error) from error
            raise

    def _applied(self, new: list[RevenueEvent]) -> Decision:
        """Fold the new events into the book (the outcome is the last one's), to be appended next."""
        folded = [events.applied(self._book, event) for event in new]
        return folded, folded[-1].outcome

    async def _catch_up(self, log: RevenueEventLog) -> None:
        if self._stale:
            self._reset()
        for stored in await _transient(log.events_after(self._last)):
            if stored.sequence != self._last + 1:
                raise RuntimeError(f"revenue event {self._last + 1} is missing; found {stored.sequence}")
            try:
                events.applied(self._book, stored.event)
            except ValueError as error:
                self._stale = True
                message = f"revenue event {stored.sequence} ({stored.event.kind}) does not fold: {error}"
                raise RuntimeError(message) from error
            self._remember(stored.event)
            self._last = stored.sequence

    def _remember(self, event: RevenueEvent) -> None:
        self._outcomes[event.idempotency_key] = event.outcome
        if event.subject is not None:
            self._subjects[event.subject] = event.idempotency_key

    def _period_key(self, period: AccountingPeriod) -> str:
        try:
            return self._calendar.period_of(period.end).key
        except ValueError as error:
            raise _refusal(f"period {period.name}", error) from error


async def _transient(operation: Awaitable[T]) -> T:
    try:
        return await operation
    except (SQLAlchemyError, OSError) as error:
        raise TransientAdapterError(System.REVENUE, f"the revenue database: {error}") from error


def _check_amendment(amended: Contract, amendment: Amendment) -> None:
    """The amended contract is the version the amendment makes: of its contract, right after the one it amends."""
    if amendment.contract_id != amended.contract_id or amended.version != amendment.references_version + 1:
        raise StaleVersionError(
            f"amendment {amendment.amendment_id} amends {amendment.contract_id} version "
            f"{amendment.references_version}; it cannot make {amended.contract_id} version {amended.version}"
        )


def _refusal(record: str, error: ValueError) -> PermanentAdapterError:
    """What the engine refused, as a permanent error for the team that can fix it."""
    if isinstance(error, UnknownContractError | UnknownObligationError):
        category = ExceptionCategory.MASTER_DATA_MISMATCH
    elif isinstance(error, PeriodLockedError):
        category = ExceptionCategory.CLOSED_PERIOD
    elif isinstance(error, AllocationError):
        category = ExceptionCategory.MAPPING_MISSING
    elif isinstance(error, StaleVersionError):
        category = ExceptionCategory.MISSING_AMENDMENT_REFERENCE
    elif isinstance(error, ModificationInUseError):
        category = ExceptionCategory.SYSTEM_REJECTED
    else:
        category = ExceptionCategory.INVALID_DATA
    message = str(error) if record in str(error) else f"{record}: {error}"
    return PermanentAdapterError(System.REVENUE, message, category)
