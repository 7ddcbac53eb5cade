"""Privacy: users.analytics_opt_out, the erasure audit, and daily IP hash keys.

Revision ID: 20260115_add_privacy
Revises: 20260110_add_users_is_internal
Create Date: 2026-01-15
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "20260115_add_privacy"
down_revision = "20260110_add_users_is_internal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "analytics_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "erasure_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=16), nullable=False),
        sa.Column("admin_user_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "row_counts",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_audit")),
    )
    op.create_table(
        "ip_hash_keys",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ip_hash_keys")),
    )


def downgrade() -> None:
    op.drop_table("ip_hash_keys")
    op.drop_table("erasure_audit")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("analytics_opt_out")
