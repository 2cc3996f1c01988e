"""customer links (token hashes), the deadlines escalation promised, reminders sent, and
durable timers (reminders, closing as unreachable)

Revision ID: customerlink_links_timers
Revises: privacy_erasure
Create Date: 2026-11-25 22:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import (
    create_timer_table_v1,
    create_timer_table_v2,
    drop_timer_table_v1,
    drop_timer_table_v2,
)

revision = "customerlink_links_timers"
down_revision = "privacy_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_links",
        sa.Column("token_sha256", sa.Text(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_customer_links_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_customer_links")),
    )
    op.create_index("ix_customer_links_complaint", "customer_links", ["complaint_id"])
    op.add_column("complaints", sa.Column("deadlines", postgresql.JSONB(astext_type=sa.Text())))
    op.add_column(
        "complaints",
        sa.Column("reminders_sent", sa.Integer(), server_default="0", nullable=False),
    )
    create_timer_table_v1(op)
    create_timer_table_v2(op)


def downgrade() -> None:
    drop_timer_table_v2(op)
    drop_timer_table_v1(op)
    op.drop_column("complaints", "reminders_sent")
    op.drop_column("complaints", "deadlines")
    op.drop_index("ix_customer_links_complaint", table_name="customer_links")
    op.drop_table("customer_links")
