"""Partition request_logs by month on PostgreSQL (placeholder until the partitioning work lands).

Revision ID: 20260120_partition_request_logs
Revises: 20260115_add_privacy
Create Date: 2026-01-20
"""

revision = "20260120_partition_request_logs"
down_revision = "20260115_add_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
