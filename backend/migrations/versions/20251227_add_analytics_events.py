"""Add analytics_events: product events with JSONB data on PostgreSQL.

Revision ID: 20251227_add_analytics_events
Revises: 20251225_add_user_liked_videos
Create Date: 2025-12-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "20251227_add_analytics_events"
down_revision = "20251225_add_user_liked_videos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column(
            "event_data",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_analytics_events_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
    )
    op.create_index("idx_events_user", "analytics_events", ["user_id"])
    op.create_index("idx_events_type_date", "analytics_events", ["event_type", "created_at"])


def downgrade() -> None:
    op.drop_index("idx_events_type_date", table_name="analytics_events")
    op.drop_index("idx_events_user", table_name="analytics_events")
    op.drop_table("analytics_events")
