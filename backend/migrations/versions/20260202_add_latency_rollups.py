"""Latency rollups (placeholder: filled in by the latency-rollup work).

Revision ID: 20260202_add_latency_rollups
Revises: 20260201_add_activity_rollups
Create Date: 2026-02-02
"""

revision = "20260202_add_latency_rollups"
down_revision = "20260201_add_activity_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
