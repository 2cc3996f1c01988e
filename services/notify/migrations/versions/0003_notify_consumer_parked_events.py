"""parked consumer events: what notify's consumer group could not process, and the audit of
redrives

Revision ID: notify_consumer_parked_events
Revises: notify_relay_delivery_v2
Create Date: 2026-11-25 19:55:00
"""

from alembic import op

from shared.messaging.parked_tables import create_parked_tables_v1, drop_parked_tables_v1

revision = "notify_consumer_parked_events"
down_revision = "notify_relay_delivery_v2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parked_tables_v1(op)


def downgrade() -> None:
    drop_parked_tables_v1(op)
