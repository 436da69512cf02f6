"""sso_users: people seen through the single sign-on proxy (for the access review)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutwatch.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sso_users",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role", sa.String(length=20), nullable=False, comment="the role their groups gave them when last seen"
        ),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sso_users")),
    )


def downgrade() -> None:
    op.drop_table("sso_users")
