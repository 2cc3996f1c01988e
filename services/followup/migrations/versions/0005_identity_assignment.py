"""call-backs are in a team's queue and can be taken by a person

Revision ID: identity_assignment
Revises: consumer_parked_events
Create Date: 2026-11-25 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_assignment"
down_revision = "consumer_parked_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callbacks", sa.Column("team", sa.Text()))
    op.add_column("callbacks", sa.Column("assignee", sa.Text()))
    op.add_column("callbacks", sa.Column("assignee_name", sa.Text()))
    op.add_column("callbacks", sa.Column("taken_at", sa.DateTime(timezone=True)))
    op.create_index("ix_callbacks_team_queue", "callbacks", ["team", "due_at", "tier_rank", "id"])
    op.create_index(
        "ix_callbacks_assignee_queue", "callbacks", ["assignee", "due_at", "tier_rank", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_callbacks_assignee_queue", table_name="callbacks")
    op.drop_index("ix_callbacks_team_queue", table_name="callbacks")
    for column in ("taken_at", "assignee_name", "assignee", "team"):
        op.drop_column("callbacks", column)
