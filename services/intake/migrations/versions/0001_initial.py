"""complaints, status history, idempotency keys, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23 22:45:22.250852
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_messaging_tables_v1, drop_messaging_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("severity_reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("customer_tier", sa.Text(), nullable=False),
        sa.Column("customer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("subject", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("expected_outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("documents", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("in_litigation", sa.Boolean(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("missing_fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalation_level", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index("ix_complaints_channel", "complaints", ["channel", "received_at"], unique=False)
    op.create_index(
        "ix_complaints_customer", "complaints", ["customer_id", "received_at"], unique=False
    )
    op.create_index("ix_complaints_received", "complaints", ["received_at", "id"], unique=False)
    op.create_index("ix_complaints_status", "complaints", ["status", "received_at"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("channel", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "complaint_status_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_status_history_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_status_history")),
    )
    op.create_index(
        "ix_status_history_complaint",
        "complaint_status_history",
        ["complaint_id", "id"],
        unique=False,
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_index("ix_status_history_complaint", table_name="complaint_status_history")
    op.drop_table("complaint_status_history")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_complaints_status", table_name="complaints")
    op.drop_index("ix_complaints_received", table_name="complaints")
    op.drop_index("ix_complaints_customer", table_name="complaints")
    op.drop_index("ix_complaints_channel", table_name="complaints")
    op.drop_table("complaints")
