"""timers: an insert's notification carries the earliest due time it armed

Revision ID: timers_wake_v3
Revises: approvals_authority
Create Date: 2026-11-26 01:00:00
"""

from alembic import op

from shared.migrations import create_timer_wake_v3, drop_timer_wake_v3

revision = "timers_wake_v3"
down_revision = "approvals_authority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_timer_wake_v3(op)


def downgrade() -> None:
    drop_timer_wake_v3(op)
