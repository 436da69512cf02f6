"""scheduled_payouts: an index on transfer_id for reconciliation

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Reconciliation links a transfer to its payout by the transfer's ``payout_id`` or the payout's
``transfer_id``; finding orphan transfers looked payouts up by ``transfer_id`` with a full scan
per transfer (tens of seconds at 10^4 payouts and transfers of one cycle, on both stores).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payouts_transfer", "scheduled_payouts", ["transfer_id"])


def downgrade() -> None:
    op.drop_index("ix_payouts_transfer", table_name="scheduled_payouts")
