"""call-backs remember when they first went overdue (the call-back SLA)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callbacks", sa.Column("went_overdue_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("callbacks", "went_overdue_at")
