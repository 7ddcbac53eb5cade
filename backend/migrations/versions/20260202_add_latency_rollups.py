"""Latency rollups: latency_rollups (the latency histogram of request_logs) and
latency_rollup_users (the internal users it counts apart).

Empty when created: the first API health call (or fold_latency_rollup()) folds every
request log in, from id 0 of its watermark (rollup_state name "latency").

Revision ID: 20260202_add_latency_rollups
Revises: 20260201_add_activity_rollups
Create Date: 2026-02-02
"""

import sqlalchemy as sa
from alembic import op

revision = "20260202_add_latency_rollups"
down_revision = "20260201_add_activity_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latency_rollups",
        sa.Column("grain", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("bin", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("internal_user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("n4xx", sa.Integer(), nullable=False),
        sa.Column("n5xx", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain",
            "bucket_start",
            "endpoint",
            "method",
            "bin",
            "internal_user_id",
            name=op.f("pk_latency_rollups"),
        ),
    )
    op.create_index(
        "idx_latency_rollups_route",
        "latency_rollups",
        ["endpoint", "method", "grain", "bucket_start"],
    )
    op.create_index(
        "idx_latency_rollups_internal",
        "latency_rollups",
        ["internal_user_id"],
        postgresql_where=sa.text("internal_user_id <> 0"),
        sqlite_where=sa.text("internal_user_id <> 0"),
    )
    op.create_table(
        "latency_rollup_users",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_latency_rollup_users")),
    )
    # A rollup's watermark lives in rollup_state; a fresh table starts from id 0.
    op.execute("DELETE FROM rollup_state WHERE name = 'latency'")


def downgrade() -> None:
    op.drop_table("latency_rollup_users")
    op.drop_index("idx_latency_rollups_internal", table_name="latency_rollups")
    op.drop_index("idx_latency_rollups_route", table_name="latency_rollups")
    op.drop_table("latency_rollups")
    op.execute("DELETE FROM rollup_state WHERE name = 'latency'")
