"""Activity rollups: rollup_state (the id watermark of every rollup) and the activity tables.

Revision ID: 20260201_add_activity_rollups
Revises: 20260120_partition_request_logs
Create Date: 2026-02-01
"""

import sqlalchemy as sa
from alembic import op

revision = "20260201_add_activity_rollups"
down_revision = "20260120_partition_request_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("folded_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("rollup_state")
