"""notifications of armed timers name their earliest due time: arming a case's far-off
deadlines no longer wakes the timer scheduler for a round that finds nothing due

Revision ID: esc_timers_notify_due
Revises: approvals_authority
Create Date: 2026-11-26 01:00:00
"""

from alembic import op

from shared.timers import notify_due_times, undo_notify_due_times

revision = "esc_timers_notify_due"
down_revision = "approvals_authority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    notify_due_times(op)


def downgrade() -> None:
    undo_notify_due_times(op)
