"""reserve_fits: each account's exact regression sums over its lookback, kept at ingest; data_versions

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

The reserve projection fitted a regression over 28 days of snapshots for every account on every
request (issue 14). The sums it needs (count, Σx, Σy, Σx², Σxy) are now kept per account as
snapshots arrive, so a projection reads one row per account. The table starts empty: an account
without a row (or with one that does not match the instant asked for) is computed from its
snapshots, and its row is written at its next snapshot.

data_versions holds the version of the records, replaced in the same transaction as every write of
them, so figures cached per version are never served after a write (metrics/cache.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutwatch.store.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = UtcDateTime(timezone=True)
    op.create_table(
        "reserve_fits",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("window_low", instant, nullable=False, comment="exclusive: the sums cover (window_low, last_as_of]"),
        sa.Column("first_as_of", instant, nullable=False, comment="the oldest snapshot in the window"),
        sa.Column(
            "excluded_as_of", instant, nullable=True, comment="the newest snapshot before the window (null: none)"
        ),
        sa.Column("last_as_of", instant, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("sx", sa.String(length=80), nullable=False),
        sa.Column("sy", sa.String(length=80), nullable=False),
        sa.Column("sxx", sa.String(length=80), nullable=False),
        sa.Column("sxy", sa.String(length=80), nullable=False),
        sa.Column(
            "slope", sa.Float(), nullable=False, comment="the slope in cents per second, rounded: to filter in SQL"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_reserve_fits")),
        comment="each account's exact regression sums over its lookback, kept at ingest (x: as_of in microseconds)",
    )

    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_versions")),
        comment="a new random version in the same transaction as every write of records: cached figures key on it",
    )


def downgrade() -> None:
    op.drop_table("data_versions")
    op.drop_table("reserve_fits")
