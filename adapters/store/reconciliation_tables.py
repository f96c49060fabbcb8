"""Reconciliation's tables (`adapters.store.reconciliation`), on the store's metadata and migrations.

Each run stages what it read from each system under its `run_id`, then matches the staged rows with set-based
SQL and keeps the breaks it found. Amounts are integer minor units, signed (credit notes negative): exact,
compact, and compared and summed at full speed by SQLite and PostgreSQL alike. The staging tables have no
foreign keys, so a bulk load (COPY on PostgreSQL) checks nothing per row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlmodel import Field

from adapters.store.tables import StoreTable, UtcDateTime


class ReconciliationRunRow(StoreTable, table=True):
    __tablename__ = "recon_runs"
    __table_args__ = (UniqueConstraint("run_key"),)

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(sa_type=String(255), description="Workflow ID and run: a retried start finds its run")
    workflow_id: str = Field(sa_type=String(255))
    first_day: date
    last_day: date
    started_at: datetime = Field(sa_type=UtcDateTime)
    matched_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    billing_documents: int = 0
    erp_postings: int = 0
    accounts: int = 0


class StagedBillingRow(StoreTable, table=True):
    __tablename__ = "recon_billing_documents"

    run_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    document_id: str = Field(primary_key=True, sa_type=String(255))
    issued_on: date
    legal_entity: str = Field(sa_type=String(32))
    currency: str = Field(sa_type=String(3))
    amount_minor: int = Field(sa_type=BigInteger)
    open_minor: int = Field(sa_type=BigInteger)


class StagedErpRow(StoreTable, table=True):
    __tablename__ = "recon_erp_postings"
    __table_args__ = (Index("ix_recon_erp_postings_external", "run_id", "external_id"),)

    run_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    internal_id: str = Field(primary_key=True, sa_type=String(64))
    external_id: str | None = Field(default=None, sa_type=String(255))
    tran_date: date
    legal_entity: str = Field(sa_type=String(32))
    currency: str = Field(sa_type=String(3))
    amount_minor: int = Field(sa_type=BigInteger)
    open_minor: int = Field(sa_type=BigInteger)


class StagedBalanceRow(StoreTable, table=True):
    __tablename__ = "recon_account_balances"

    run_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    system: str = Field(primary_key=True, sa_type=String(16))
    account: str = Field(primary_key=True, sa_type=String(64))
    currency: str = Field(primary_key=True, sa_type=String(3))
    balance_minor: int = Field(sa_type=BigInteger)


class ReconciliationBreakRow(StoreTable, table=True):
    """One break. Which of document_id / (day, legal_entity) / account is set depends on `kind`."""

    __tablename__ = "recon_breaks"
    __table_args__ = (Index("ix_recon_breaks_run", "run_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int
    kind: str = Field(sa_type=String(32))
    document_id: str | None = Field(default=None, sa_type=String(255))
    day: date | None = None
    legal_entity: str | None = Field(default=None, sa_type=String(32))
    account: str | None = Field(default=None, sa_type=String(64))
    billing_currency: str | None = Field(default=None, sa_type=String(3))
    billing_minor: int | None = Field(default=None, sa_type=BigInteger)
    erp_currency: str | None = Field(default=None, sa_type=String(3))
    erp_minor: int | None = Field(default=None, sa_type=BigInteger)
    postings: int | None = Field(default=None, description="duplicate_in_erp: how many postings")
    case_id: int | None = None


__all__ = [
    "ReconciliationBreakRow",
    "ReconciliationRunRow",
    "StagedBalanceRow",
    "StagedBillingRow",
    "StagedErpRow",
]
