"""Add rejected_events: every refused event with its reason, kept for 14 days.

Revision ID: 20260106_add_rejected_events
Revises: 20260105_add_event_ids
Create Date: 2026-01-06
"""

import sqlalchemy as sa
from alembic import op

revision = "20260106_add_rejected_events"
down_revision = "20260105_add_event_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_rejected_events_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_events")),
    )
    op.create_index("idx_rejected_received", "rejected_events", ["received_at"])
    op.create_index("idx_rejected_reason", "rejected_events", ["reason", "received_at"])
    op.create_index("idx_rejected_user", "rejected_events", ["user_id"])


def downgrade() -> None:
    op.drop_table("rejected_events")
