"""evaluation_marks: the latest instant evaluated, so alert state only moves forward

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

``evaluate --at`` an instant earlier than one already evaluated resolved live alerts and paged them again
afterwards (issue 9, point 5). Each evaluation now records its instant here, and an explicit earlier one is
refused (DESIGN §7).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutwatch.store.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_marks",
        sa.Column("name", sa.String(length=60), nullable=False, comment="what was evaluated: 'alerts' for the rules"),
        sa.Column(
            "latest_at",
            UtcDateTime(),
            nullable=False,
            comment="the latest instant evaluated; alert state moves forward",
        ),
        sa.Column("recorded_at", UtcDateTime(), nullable=False, comment="the clock when latest_at was recorded"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_evaluation_marks")),
    )


def downgrade() -> None:
    op.drop_table("evaluation_marks")
