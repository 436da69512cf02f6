"""alerts.details_digest: a digest of an alert's details, stored beside them

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

Every evaluation compared each finding with its firing alert by decoding the alert's stored
details (issue 14: ~3,800 firing reserve alerts at scale 1.0, decoded on every run). The engine now
stores a digest of the details it writes and compares digests. Alerts written before this revision
have none; the engine compares their decoded details as before and stores the digest at their next
write.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column(
                "details_digest",
                sa.String(length=32),
                nullable=True,
                comment="digest of details as written (rules/engine.py); null before revision 0016",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("details_digest")
