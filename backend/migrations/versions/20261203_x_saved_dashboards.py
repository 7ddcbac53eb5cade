"""Saved dashboards (issue 16): named sets of report views shared by the admins.

A new table, saved_dashboards; created_by -> users is set to NULL when the user goes.

Revision ID: 20261203_x_saved_dashboards
Revises: 20261203_w_password_reset_tokens
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_x_saved_dashboards"
down_revision = "20261203_w_password_reset_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_dashboards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], ondelete="SET NULL",
            name=op.f("fk_saved_dashboards_created_by_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_dashboards")),
        sa.UniqueConstraint("name", name=op.f("uq_saved_dashboards_name")),
    )
    op.create_index(
        op.f("ix_saved_dashboards_created_by"), "saved_dashboards", ["created_by"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_dashboards_created_by"), table_name="saved_dashboards")
    op.drop_table("saved_dashboards")
