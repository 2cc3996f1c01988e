"""the assignee queue index holds taken call-backs only

A new call-back has no assignee: indexing its NULL cost every insert an index entry no query
reads (the queue filters ``assignee = :person``, which implies NOT NULL, so the partial index
serves it).

Revision ID: fu_assignee_queue_partial
Revises: timers_wake_v3
Create Date: 2026-11-26 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "fu_assignee_queue_partial"
down_revision = "timers_wake_v3"
branch_labels = None
depends_on = None

COLUMNS = ["assignee", "due_at", "tier_rank", "id"]


def upgrade() -> None:
    op.drop_index("ix_callbacks_assignee_queue", table_name="callbacks")
    op.create_index(
        "ix_callbacks_assignee_queue",
        "callbacks",
        COLUMNS,
        postgresql_where=sa.text("assignee IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_callbacks_assignee_queue", table_name="callbacks")
    op.create_index("ix_callbacks_assignee_queue", "callbacks", COLUMNS)
