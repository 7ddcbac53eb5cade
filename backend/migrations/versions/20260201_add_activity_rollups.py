"""Activity rollups: rollup_state (the id watermark of every rollup) and the activity tables
(activity_zones, activity_user_days, activity_day_counts, activity_type_counts).

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
    op.create_table(
        "activity_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_zones")),
        sa.UniqueConstraint("tz", name=op.f("uq_activity_zones_tz")),
    )
    op.create_table(
        "activity_user_days",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zone_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "user_id", "zone_id", "day", "event_type", name=op.f("pk_activity_user_days")
        ),
    )
    op.create_table(
        "activity_day_counts",
        sa.Column("zone_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dau", sa.Integer(), nullable=False),
        sa.Column("wau_change", sa.Integer(), nullable=False),
        sa.Column("mau_change", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", "day", name=op.f("pk_activity_day_counts")),
    )
    op.create_table(
        "activity_type_counts",
        sa.Column("zone_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "zone_id", "event_type", "day", name=op.f("pk_activity_type_counts")
        ),
    )


    # Reports subtract internal users from the rollups' counts: find them without a scan.
    op.create_index(
        "ix_users_internal",
        "users",
        ["id"],
        postgresql_where=sa.text("is_internal"),
        sqlite_where=sa.text("is_internal"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_internal", table_name="users")
    op.drop_table("activity_type_counts")
    op.drop_table("activity_day_counts")
    op.drop_table("activity_user_days")
    op.drop_table("activity_zones")
    op.drop_table("rollup_state")
