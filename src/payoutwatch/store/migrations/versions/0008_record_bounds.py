"""Text columns hold every value the record bounds of DESIGN §3 accept

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Ids and short text (``source``, ``hold_reason``, ``owner``, ``fingerprint``) are accepted up to
200 characters, ``name`` and ``reason`` up to 1,000; a credential's owner also becomes an alert's
owner. Only PostgreSQL enforces ``VARCHAR`` lengths; on SQLite the columns already hold any length,
so nothing is rebuilt there. Widening a ``VARCHAR`` on PostgreSQL rewrites no rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (table, column, length before, length after)
WIDENED = (
    ("job_runs", "source", 100, 200),
    ("scheduled_payouts", "hold_reason", 100, 200),
    ("manual_payouts", "reason", 200, 1000),
    ("credentials", "name", 200, 1000),
    ("credentials", "owner", 100, 200),
    ("credentials", "source", 100, 200),
    ("credentials", "fingerprint", 100, 200),
    ("alerts", "owner", 100, 200),
    ("silences", "owner", 100, 200),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before, after in WIDENED:
        op.alter_column(table, column, type_=sa.String(length=after), existing_type=sa.String(length=before))


def downgrade() -> None:
    """Narrows the columns back: fails on PostgreSQL if a stored value is longer than before."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before, after in WIDENED:
        op.alter_column(table, column, type_=sa.String(length=before), existing_type=sa.String(length=after))
