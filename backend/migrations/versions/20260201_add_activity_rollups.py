"""Activity rollups (placeholder: filled in by the activity-rollup work).

Revision ID: 20260201_add_activity_rollups
Revises: 20260120_partition_request_logs
Create Date: 2026-02-01
"""

revision = "20260201_add_activity_rollups"
down_revision = "20260120_partition_request_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
