"""Add event_id (idempotency key, unique per user) and occurred_at to analytics_events.

Existing rows keep event_id NULL (NULLs never collide) and get occurred_at = created_at.

Revision ID: 20260105_add_event_ids
Revises: 20251227_add_request_logs
Create Date: 2026-01-05
"""

import sqlalchemy as sa
from alembic import op

revision = "20260105_add_event_ids"
down_revision = "20251227_add_request_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_events") as batch:
        batch.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE analytics_events SET occurred_at = created_at")
    with op.batch_alter_table("analytics_events") as batch:
        batch.alter_column("occurred_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_unique_constraint("uq_events_user_event_id", ["user_id", "event_id"])
    op.create_index("idx_events_type_occurred", "analytics_events", ["event_type", "occurred_at"])


def downgrade() -> None:
    op.drop_index("idx_events_type_occurred", table_name="analytics_events")
    with op.batch_alter_table("analytics_events") as batch:
        batch.drop_constraint("uq_events_user_event_id", type_="unique")
        batch.drop_column("occurred_at")
        batch.drop_column("event_id")
