"""cases, timeline, sla outcomes, timers, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23 22:59:11.403851
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


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("highest_level", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("customer", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clocks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("climb_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_before_pause", sa.Text(), nullable=True),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_level", "cases", ["level", "received_at"], unique=False)
    op.create_index("ix_cases_next_deadline", "cases", ["next_deadline"], unique=False)
    op.create_index("ix_cases_received", "cases", ["received_at", "complaint_id"], unique=False)
    op.create_index("ix_cases_status", "cases", ["status", "received_at"], unique=False)
    op.create_table(
        "sla_outcomes",
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("clock", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "complaint_id", "round", "clock", "level", name=op.f("pk_sla_outcomes")
        ),
    )
    op.create_index("ix_sla_outcomes_decided", "sla_outcomes", ["decided_at"], unique=False)
    op.create_table(
        "case_timeline",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["cases.complaint_id"],
            name=op.f("fk_case_timeline_complaint_id_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_timeline")),
    )
    op.create_index(
        "ix_case_timeline_complaint", "case_timeline", ["complaint_id", "id"], unique=False
    )
    create_messaging_tables_v1(op)
    create_timer_table_v1(op)


def downgrade() -> None:
    drop_timer_table_v1(op)
    drop_messaging_tables_v1(op)
    op.drop_index("ix_case_timeline_complaint", table_name="case_timeline")
    op.drop_table("case_timeline")
    op.drop_index("ix_sla_outcomes_decided", table_name="sla_outcomes")
    op.drop_table("sla_outcomes")
    op.drop_index("ix_cases_status", table_name="cases")
    op.drop_index("ix_cases_received", table_name="cases")
    op.drop_index("ix_cases_next_deadline", table_name="cases")
    op.drop_index("ix_cases_level", table_name="cases")
    op.drop_table("cases")
