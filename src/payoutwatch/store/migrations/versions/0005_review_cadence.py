"""report_runs, reconciliation_signoffs, alert_reviews, config_versions (the review cadence)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutwatch.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("report", sa.String(length=40), nullable=False),
        sa.Column("occurrence", UtcDateTime(), nullable=False, comment="the scheduled instant this send is for"),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("report", "occurrence", name=op.f("pk_report_runs")),
    )
    op.create_table(
        "reconciliation_signoffs",
        sa.Column("cycle", UtcDateTime(), nullable=False),
        sa.Column("signed_by", sa.String(length=100), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=False, comment="the reconciliation figures that were signed"),
        sa.PrimaryKeyConstraint("cycle", name=op.f("pk_reconciliation_signoffs")),
    )
    op.create_table(
        "alert_reviews",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_reviews")),
    )
    op.create_table(
        "config_versions",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("redacted", sa.JSON(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=True, comment="against the version seen before it, secrets redacted"),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_config_versions")),
    )
    op.create_index("ix_config_versions_seen", "config_versions", ["first_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_config_versions_seen", table_name="config_versions")
    for table in ("config_versions", "alert_reviews", "reconciliation_signoffs", "report_runs"):
        op.drop_table(table)
