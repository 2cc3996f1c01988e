"""cases have an owner team, an assignee and the site they are about

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
    op.add_column("cases", sa.Column("site", sa.Text()))
    op.add_column("cases", sa.Column("team", sa.Text()))
    op.add_column("cases", sa.Column("assignee", sa.Text()))
    op.add_column("cases", sa.Column("assignee_name", sa.Text()))
    # The queues: a team's cases and a person's, newest first.
    op.create_index("ix_cases_team", "cases", ["team", "received_at"])
    op.create_index("ix_cases_assignee", "cases", ["assignee", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_assignee", table_name="cases")
    op.drop_index("ix_cases_team", table_name="cases")
    for column in ("assignee_name", "assignee", "team", "site"):
        op.drop_column("cases", column)
