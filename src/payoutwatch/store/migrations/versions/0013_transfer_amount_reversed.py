"""transfers: amount_reversed_cents, so a partial reversal is visible to reconciliation

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

Stripe keeps a transfer's ``reversed`` false after a partial reversal and reports the amount in
``amount_reversed``; it was stored as not reversed at its full amount.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("amount_reversed_cents", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("amount_reversed_cents")
