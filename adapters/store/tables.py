"""The store's tables as sqlmodel models, on their own metadata (so nothing else's tables leak into migrations).

Portable between PostgreSQL and SQLite, with two column types that make both behave exactly:

* `ExactDecimal`: money is `NUMERIC` on PostgreSQL and the decimal's text on SQLite (whose NUMERIC affinity
  would turn it into a binary float); either way a `Decimal` goes in and the same `Decimal` comes out, scale
  included (`0.30` stays `0.30`). Floats are refused.
* `UtcDateTime`: timezone-aware in, aware UTC out, to the microsecond, on both (SQLite keeps no zone).

The migrations in `migrations/versions` create exactly these tables; `tests/store` checks that Alembic's
autogenerate finds no difference between the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Dialect,
    Index,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import registry
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

# The chain's first `previous_hash`. Frozen: the initial migration writes it into the chain head.
GENESIS_HASH = "0" * 64


class ExactDecimal(TypeDecorator[Decimal]):
    """A `Decimal` stored exactly: NUMERIC on PostgreSQL, its text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):  # a float here is a bug upstream; never store one
            raise TypeError(f"money columns take Decimal, not {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"money columns take finite amounts, not {value}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes only; stored as UTC and read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoreTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of the store's tables: their own registry and metadata."""


class CrossReferenceRow(StoreTable, table=True):
    __tablename__ = "cross_references"
    __table_args__ = (
        UniqueConstraint("kind", "canonical_id", "version", "system"),
        Index("ix_cross_references_external", "system", "kind", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(32))
    canonical_id: str = Field(sa_type=String(255))
    version: int = Field(default=0, description="Contract version; 0 for unversioned kinds.")
    system: str = Field(sa_type=String(16))
    external_id: str = Field(sa_type=String(255))
    saga_id: str = Field(sa_type=String(255))
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class AuditRecordRow(StoreTable, table=True):
    """Append-only: the store inserts these and never updates or deletes one."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("previous_hash"),  # two records on one predecessor would be a fork
        UniqueConstraint("hash"),
        UniqueConstraint("idempotency_key"),
        Index("ix_audit_records_workflow", "workflow_id", "id"),
        Index("ix_audit_records_correlation", "correlation_id"),
    )

    id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    kind: str = Field(sa_type=String(32))
    workflow_id: str = Field(sa_type=String(255))
    run_id: str | None = Field(default=None, sa_type=String(255))
    correlation_id: str = Field(sa_type=String(255))
    actor: str = Field(sa_type=String(255))
    source_system: str | None = Field(default=None, sa_type=String(16))
    target_system: str | None = Field(default=None, sa_type=String(16))
    source_payload: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    mapping_version: str | None = Field(default=None, sa_type=String(64))
    transformation: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    posting_ack: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    note: str | None = Field(default=None, sa_type=Text)
    idempotency_key: str | None = Field(default=None, sa_type=String(255))
    previous_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64))


class AuditChainHeadRow(StoreTable, table=True):
    """One row naming the chain's last record; appends lock it, so the chain never forks."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_id: int = Field(sa_type=BigInteger)
    last_hash: str = Field(sa_type=String(64))


class ExceptionCaseRow(StoreTable, table=True):
    __tablename__ = "exception_cases"
    __table_args__ = (
        # One open case per saga and category; closed ones may pile up.
        Index(
            "uq_exception_cases_open",
            "workflow_id",
            "category",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_exception_cases_status_owner", "status", "owner"),
        CheckConstraint("(amount_at_risk IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(sa_type=String(255))
    category: str = Field(sa_type=String(64))
    description: str = Field(sa_type=Text)
    amount_at_risk: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    currency: str | None = Field(default=None, sa_type=String(3))
    owner: str = Field(sa_type=String(32))
    status: str = Field(sa_type=String(16))
    resolution: str | None = Field(default=None, sa_type=String(16))
    opened_at: datetime = Field(sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class CaseHistoryRow(StoreTable, table=True):
    __tablename__ = "exception_case_history"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="exception_cases.id", index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    by: str = Field(sa_type=String(255))
    what: str = Field(sa_type=String(32))
    why: str = Field(sa_type=Text)
    status: str = Field(sa_type=String(16))


__all__ = [
    "GENESIS_HASH",
    "AuditChainHeadRow",
    "AuditRecordRow",
    "CaseHistoryRow",
    "CrossReferenceRow",
    "ExactDecimal",
    "ExceptionCaseRow",
    "UtcDateTime",
    "metadata",
]

# Tables other modules keep on this metadata, so that the migrations and their check see them. Imported last:
# they build on the classes above.
import adapters.store.reconciliation_tables  # noqa: E402
import adapters.store.revenue_tables  # noqa: E402, F401
