"""notifications.remote_ref: what a channel made for a notification (Jira: the ticket key)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

The Jira channel found the episode's ticket for the resolve comment by searching its label; Cloud's
search is eventually consistent, so a resolve right after the firing could miss the new ticket and
skip its comment (issue 11, point 8). The key Jira answers is now stored with the notification and
handed to the episode's later messages on that channel (DESIGN §6).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(
            sa.Column(
                "remote_ref",
                sa.String(length=255),
                nullable=True,
                comment="what the channel made for this notification (Jira: the ticket key)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("remote_ref")
