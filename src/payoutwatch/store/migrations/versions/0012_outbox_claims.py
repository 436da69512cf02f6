"""outbox claims: notifications.claimed_by / claimed_until

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

A deliverer claims a row (a conditional update, committed) before sending it, so two deliverers on
one store never send the same row (issue 9, point 4: concurrent ``deliver`` sent rows twice).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutwatch.store.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.add_column("notifications", sa.Column("claimed_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
