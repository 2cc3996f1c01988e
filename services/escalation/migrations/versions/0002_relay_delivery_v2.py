"""outbox v2 (parked rows, shared shards, audit, sent-row index) and timers v2 (failed timers)

Revision ID: relay_delivery_v2
Revises: 0001
Create Date: 2026-11-25 19:00:00
"""

from alembic import op

from shared.migrations import (
    create_messaging_tables_v2,
    create_timer_table_v2,
    drop_messaging_tables_v2,
    drop_timer_table_v2,
)

revision = "relay_delivery_v2"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v2(op)
    create_timer_table_v2(op)


def downgrade() -> None:
    drop_timer_table_v2(op)
    drop_messaging_tables_v2(op)
