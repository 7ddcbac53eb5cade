"""Add user_liked_videos: one row per (user, video) like.

Revision ID: 20251225_add_user_liked_videos
Revises: 20251220_initial_schema
Create Date: 2025-12-25
"""

import sqlalchemy as sa
from alembic import op

revision = "20251225_add_user_liked_videos"
down_revision = "20251220_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_liked_videos",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_user_liked_videos_user_id_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"],
            name=op.f("fk_user_liked_videos_video_id_videos"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "video_id", name=op.f("pk_user_liked_videos")),
    )
    op.create_index(op.f("ix_user_liked_videos_video_id"), "user_liked_videos", ["video_id"])


def downgrade() -> None:
    op.drop_table("user_liked_videos")
