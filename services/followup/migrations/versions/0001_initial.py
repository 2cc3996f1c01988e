"""call-backs, attempts, survey requests, customers' activity and tiers; outbox, inbox, timers

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import (
    create_messaging_tables_v1,
    create_timer_table_v1,
    drop_messaging_tables_v1,
    drop_timer_table_v1,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("customer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("tier_rank", sa.SmallInteger(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("overdue_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("customer_words", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("origin", name=op.f("uq_callbacks_origin")),
    )
    op.create_index("ix_callbacks_queue", "callbacks", ["due_at", "tier_rank", "id"])
    op.create_index("ix_callbacks_state_queue", "callbacks", ["state", "due_at", "tier_rank", "id"])
    op.create_index("ix_callbacks_complaint", "callbacks", ["complaint_id"])
    op.create_table(
        "callback_attempts",
        sa.Column("callback_id", sa.UUID(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("customer_words", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_callback_attempts_callback_id_callbacks"),
        ),
        sa.PrimaryKeyConstraint("callback_id", "attempt", name=op.f("pk_callback_attempts")),
    )
    op.create_table(
        "survey_requests",
        sa.Column("token_sha256", sa.Text(), nullable=False),
        sa.Column("callback_id", sa.UUID(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_survey_requests_callback_id_callbacks"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_survey_requests")),
        sa.UniqueConstraint("callback_id", name="uq_survey_requests_callback_id"),
    )
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("card", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("reviewed_month", sa.Date(), nullable=True),
        sa.Column("last_activity_month", sa.Date(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "customer_visit_days",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day", name=op.f("pk_customer_visit_days")),
    )
    op.create_index("ix_visit_days_month", "customer_visit_days", ["customer_id", "month"])
    op.create_table(
        "customer_tier_history",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("dropped_from", sa.Text(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "month", name=op.f("pk_customer_tier_history")),
    )
    create_messaging_tables_v1(op)
    create_timer_table_v1(op)


def downgrade() -> None:
    drop_timer_table_v1(op)
    drop_messaging_tables_v1(op)
    op.drop_table("customer_tier_history")
    op.drop_index("ix_visit_days_month", table_name="customer_visit_days")
    op.drop_table("customer_visit_days")
    op.drop_table("customers")
    op.drop_table("survey_requests")
    op.drop_table("callback_attempts")
    op.drop_index("ix_callbacks_complaint", table_name="callbacks")
    op.drop_index("ix_callbacks_state_queue", table_name="callbacks")
    op.drop_index("ix_callbacks_queue", table_name="callbacks")
    op.drop_table("callbacks")
