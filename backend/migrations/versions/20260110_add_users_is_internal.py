"""Add users.is_internal: staff and test accounts, left out of insights by default.

Revision ID: 20260110_add_users_is_internal
Revises: 20260106_add_rejected_events
Create Date: 2026-01-10
"""

import sqlalchemy as sa
from alembic import op

revision = "20260110_add_users_is_internal"
down_revision = "20260106_add_rejected_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_internal", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_internal")
