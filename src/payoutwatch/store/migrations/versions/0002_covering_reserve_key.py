"""reserve_snapshots: the primary key covers balance and threshold on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Latest-snapshot seeks and the per-account regression windows of the reserve projection then
run as index-only scans. SQLite already clusters the table on its key (WITHOUT ROWID).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE reserve_snapshots DROP CONSTRAINT pk_reserve_snapshots, "
        "ADD CONSTRAINT pk_reserve_snapshots PRIMARY KEY (account_id, as_of) INCLUDE (balance_cents, threshold_cents)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE reserve_snapshots DROP CONSTRAINT pk_reserve_snapshots, "
        "ADD CONSTRAINT pk_reserve_snapshots PRIMARY KEY (account_id, as_of)"
    )
