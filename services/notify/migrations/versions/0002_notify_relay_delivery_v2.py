"""outbox v2 (parked rows, shared shards, audit, sent-row index); notify has no timers

Revision ID: notify_relay_delivery_v2
Revises: notify_initial
Create Date: 2026-11-25 19:20:00
"""

from alembic import op

from shared.migrations import create_messaging_tables_v2, drop_messaging_tables_v2

revision = "notify_relay_delivery_v2"
down_revision = "notify_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v2(op)


def downgrade() -> None:
    drop_messaging_tables_v2(op)
