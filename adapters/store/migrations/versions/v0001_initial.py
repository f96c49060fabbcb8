"""Initial: cross-references, the audit chain (with its head row at genesis) and the exception queue.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64  # the first record's previous_hash
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "cross_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("canonical_id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("saga_id", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cross_references")),
        sa.UniqueConstraint(
            "kind",
            "canonical_id",
            "version",
            "system",
            name=op.f("uq_cross_references_kind_canonical_id_version_system"),
        ),
    )
    op.create_index("ix_cross_references_external", "cross_references", ["system", "kind", "external_id"])

    op.create_table(
        "audit_records",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("correlation_id", sa.String(length=255), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("source_system", sa.String(length=16), nullable=True),
        sa.Column("target_system", sa.String(length=16), nullable=True),
        sa.Column("source_payload", sa.JSON(), nullable=True),
        sa.Column("mapping_version", sa.String(length=64), nullable=True),
        sa.Column("transformation", sa.JSON(), nullable=True),
        sa.Column("posting_ack", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_records_hash")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_audit_records_idempotency_key")),
        sa.UniqueConstraint("previous_hash", name=op.f("uq_audit_records_previous_hash")),
    )
    op.create_index("ix_audit_records_correlation", "audit_records", ["correlation_id"])
    op.create_index("ix_audit_records_workflow", "audit_records", ["workflow_id", "id"])

    chain_head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(chain_head, [{"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}])

    op.create_table(
        "exception_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_at_risk", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(amount_at_risk IS NULL) = (currency IS NULL)", name=op.f("ck_exception_cases_amount_has_currency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_cases")),
    )
    op.create_index("ix_exception_cases_status_owner", "exception_cases", ["status", "owner"])
    op.create_index(
        "uq_exception_cases_open",
        "exception_cases",
        ["workflow_id", "category"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )

    op.create_table(
        "exception_case_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["exception_cases.id"], name=op.f("fk_exception_case_history_case_id_exception_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_case_history")),
    )
    op.create_index(op.f("ix_exception_case_history_case_id"), "exception_case_history", ["case_id"])


def downgrade() -> None:
    op.drop_table("exception_case_history")
    op.drop_table("exception_cases")
    op.drop_table("audit_chain_head")
    op.drop_table("audit_records")
    op.drop_table("cross_references")
