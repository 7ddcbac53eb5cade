"""Add request_logs: one row per API request (route template, status, latency).

Revision ID: 20251227_add_request_logs
Revises: 20251227_add_analytics_events
Create Date: 2025-12-27
"""

import sqlalchemy as sa
from alembic import op

revision = "20251227_add_request_logs"
down_revision = "20251227_add_analytics_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_logs")),
    )
    op.create_index("idx_logs_endpoint", "request_logs", ["endpoint"])
    op.create_index("idx_logs_user", "request_logs", ["user_id"])


def downgrade() -> None:
    op.drop_index("idx_logs_user", table_name="request_logs")
    op.drop_index("idx_logs_endpoint", table_name="request_logs")
    op.drop_table("request_logs")
