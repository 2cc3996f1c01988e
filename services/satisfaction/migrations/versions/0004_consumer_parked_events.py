"""parked consumer events: what a consumer group could not process, and the audit of redrives

Revision ID: consumer_parked_events
Revises: relay_delivery_v2
Create Date: 2026-11-25 19:00:00
"""

from alembic import op

from shared.messaging.parked_tables import create_parked_tables_v1, drop_parked_tables_v1

revision = "consumer_parked_events"
down_revision = "relay_delivery_v2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parked_tables_v1(op)


def downgrade() -> None:
    drop_parked_tables_v1(op)
