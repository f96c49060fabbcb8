"""Reconciliation: what billing, the ERP and the revenue engine say, and where they disagree.

The three systems are read in bulk into these records, staged in q2c's database, and matched there with set-based
SQL (`adapters.store.reconciliation`). Amounts are integer minor units while staged (exact and fast to compare
and sum in any database) and `Money` in what a person reads (`ReconciliationBreak`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from canonical.money import Money

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class DocumentSide(StrEnum):
    """Which way a document moves the receivable: an invoice raises it, a credit note lowers it."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class BillingRecord(BaseModel):
    """One finalised billing document as billing sees it (Stripe: an invoice `in_...` or credit note `cn_...`)."""

    model_config = _FROZEN

    document_id: str = Field(min_length=1, description="Billing's ID; the ERP posting's external ID")
    side: DocumentSide
    issued_on: date
    legal_entity: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    total_minor: int = Field(description="The document's total in minor units (a credit note's is positive)")
    open_minor: int = Field(description="What billing says is still to be paid (0 once paid; credit notes: 0)")


class ErpRecord(BaseModel):
    """One AR posting as the ERP sees it (NetSuite: an invoice or credit memo with its external ID)."""

    model_config = _FROZEN

    internal_id: str = Field(min_length=1)
    external_id: str | None = Field(description="The billing document it posts; None if keyed in by hand")
    side: DocumentSide
    tran_date: date
    legal_entity: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    total_minor: int
    open_minor: int = Field(description="The ERP's amount remaining on the posting")


class LedgerSystem(StrEnum):
    ERP = "erp"
    REVENUE_ENGINE = "revenue_engine"


class AccountBalance(BaseModel):
    """One GL account's balance (debit positive) in one system, at the time of the run."""

    model_config = _FROZEN

    system: LedgerSystem
    account: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    balance_minor: int


class BreakKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"  # billed, never posted
    MISSING_IN_BILLING = "missing_in_billing"  # posted, but billing has no such document (or it was deleted)
    DUPLICATE_IN_ERP = "duplicate_in_erp"  # one billing document posted more than once
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    DAILY_TOTAL_MISMATCH = "daily_total_mismatch"  # per day, legal entity and currency
    OPEN_AR_MISMATCH = "open_ar_mismatch"  # the ERP's amount remaining vs billing's payment status
    BALANCE_MISMATCH = "balance_mismatch"  # a GL account's balance, ERP vs revenue engine


class ReconciliationBreak(BaseModel):
    """One disagreement, with both sides' figures and the exception case filed for it."""

    model_config = _FROZEN

    kind: BreakKind
    subject: str = Field(description="The document ID, `<day>/<entity>/<currency>`, or the GL account")
    description: str
    billing: Money | None = Field(description="Billing's figure (the revenue engine's, for balances)")
    erp: Money | None
    case_id: int | None = None

    @property
    def amount_at_risk(self) -> Money | None:
        """The gap between the two figures (the one there is, when the other side has nothing)."""
        if self.billing is not None and self.erp is not None and self.billing.currency == self.erp.currency:
            gap = self.billing - self.erp
            return -gap if gap.is_negative else gap
        found = self.billing if self.billing is not None else self.erp  # a currency mismatch: billing's figure
        if found is None:
            return None
        return -found if found.is_negative else found


class ReconciliationRun(BaseModel):
    """One run's summary: the period, how much was read from each side, and the breaks found."""

    model_config = _FROZEN

    run_id: int
    workflow_id: str
    first_day: date
    last_day: date
    started_at: datetime
    billing_documents: int
    erp_postings: int
    accounts: int
    breaks_by_kind: dict[BreakKind, int] = Field(default_factory=dict)

    @property
    def breaks(self) -> int:
        return sum(self.breaks_by_kind.values())

    @property
    def clean(self) -> bool:
        return self.breaks == 0


class ReconciliationRequest(BaseModel):
    """What the `Reconciliation` workflow reconciles: the billing days `first_day`..`last_day`; with no days (a
    scheduled run), the day before the run starts, in UTC."""

    model_config = _FROZEN

    first_day: date | None = None
    last_day: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ReconciliationRequest:
        if (self.first_day is None) != (self.last_day is None):
            raise ValueError("give both first_day and last_day, or neither (the day before the run)")
        if self.first_day is not None and self.last_day is not None and self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self

    @classmethod
    def day(cls, on: date) -> ReconciliationRequest:
        return cls(first_day=on, last_day=on)

    def resolved(self, today: date) -> tuple[date, date]:
        if self.first_day is None or self.last_day is None:
            yesterday = today - timedelta(days=1)
            return yesterday, yesterday
        return self.first_day, self.last_day


def reconciliation_label(first_day: date, last_day: date) -> str:
    return first_day.isoformat() if first_day == last_day else f"{first_day.isoformat()}..{last_day.isoformat()}"


def reconciliation_workflow_id(first_day: date, last_day: date) -> str:
    return f"reconciliation/{reconciliation_label(first_day, last_day)}"
