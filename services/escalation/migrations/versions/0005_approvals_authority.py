"""cases hold their authority state: plans and compensations awaiting approval, abuse flags,
a refusal of service, pause reminders

Revision ID: approvals_authority
Revises: identity_assignment
Create Date: 2026-11-25 22:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "approvals_authority"
down_revision = "identity_assignment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("authority", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column(
        "cases",
        sa.Column("awaiting_approval", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # The approvers' queue: the few cases waiting for a decision, newest first.
    op.create_index(
        "ix_cases_awaiting_approval",
        "cases",
        ["received_at"],
        postgresql_where=sa.text("awaiting_approval"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_awaiting_approval", table_name="cases")
    op.drop_column("cases", "awaiting_approval")
    op.drop_column("cases", "authority")
