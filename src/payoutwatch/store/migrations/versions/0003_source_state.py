"""source_state: each source's cursor and the outcome of its last sync; credentials.fingerprint

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import payoutwatch.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, comment="ok or failing: the outcome of the last sync"),
        sa.Column(
            "cursor",
            sa.JSON(),
            nullable=True,
            comment="where the next sync starts; advanced only after a successful write",
        ),
        sa.Column("first_attempt_at", payoutwatch.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", payoutwatch.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", payoutwatch.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_counts", sa.JSON(), nullable=True),
        sa.Column("last_duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_state")),
    )
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("fingerprint")
    op.drop_table("source_state")
