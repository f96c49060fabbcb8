"""Reconciliation: runs, the rows staged from each system, and the breaks found.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recon_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=255), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billing_documents", sa.Integer(), nullable=False),
        sa.Column("erp_postings", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_recon_runs_run_key")),
    )
    op.create_table(
        "recon_billing_documents",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document_id", sa.String(length=255), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("legal_entity", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "document_id", name=op.f("pk_recon_billing_documents")),
    )
    op.create_table(
        "recon_erp_postings",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("internal_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("tran_date", sa.Date(), nullable=False),
        sa.Column("legal_entity", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "internal_id", name=op.f("pk_recon_erp_postings")),
    )
    op.create_index("ix_recon_erp_postings_external", "recon_erp_postings", ["run_id", "external_id"])
    op.create_table(
        "recon_account_balances",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "system", "account", "currency", name=op.f("pk_recon_account_balances")),
    )
    op.create_table(
        "recon_breaks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=255), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("legal_entity", sa.String(length=32), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("billing_currency", sa.String(length=3), nullable=True),
        sa.Column("billing_minor", sa.BigInteger(), nullable=True),
        sa.Column("erp_currency", sa.String(length=3), nullable=True),
        sa.Column("erp_minor", sa.BigInteger(), nullable=True),
        sa.Column("postings", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_breaks")),
    )
    op.create_index("ix_recon_breaks_run", "recon_breaks", ["run_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_recon_breaks_run", table_name="recon_breaks")
    op.drop_table("recon_breaks")
    op.drop_table("recon_account_balances")
    op.drop_index("ix_recon_erp_postings_external", table_name="recon_erp_postings")
    op.drop_table("recon_erp_postings")
    op.drop_table("recon_billing_documents")
    op.drop_table("recon_runs")
