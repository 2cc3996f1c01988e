"""facts, surveys, answers, rollups, alert state, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23 22:56:41.656353
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
        "alert_state",
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("alerting", sa.Boolean(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "value", name=op.f("pk_alert_state")),
    )
    op.create_table(
        "answers",
        sa.Column("answer_id", sa.UUID(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("survey_token", sa.Text(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("factors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("taken_by", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_answers")),
    )
    op.create_index("ix_answers_complaint", "answers", ["complaint_id"], unique=False)
    op.create_table(
        "facts",
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "breached", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("highest_rank", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("highest_level", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("case_reopens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("followup_reopens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_round", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_facts")),
    )
    op.create_table(
        "rollup_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("complaints", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved_cohort", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quick_cohort", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("timely", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("timed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolve_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requested", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requested_answered", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l6", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l5", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l4", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l3", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l2", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("l1", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l6", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l5", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l4", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l3", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l2", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("met_l1", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l6", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l5", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l4", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l3", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l2", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("missed_l1", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "dimension", "value", name=op.f("pk_rollup_daily")),
    )
    op.create_index("ix_rollup_daily_dimension", "rollup_daily", ["dimension", "day"], unique=False)
    op.create_table(
        "rollup_factors",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("factor", sa.Text(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "dimension", "value", "factor", "score", name=op.f("pk_rollup_factors")
        ),
    )
    op.create_index(
        "ix_rollup_factors_dimension", "rollup_factors", ["dimension", "day"], unique=False
    )
    op.create_table(
        "rollup_resolve",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Float(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "dimension", "value", "bucket", name=op.f("pk_rollup_resolve")
        ),
    )
    op.create_index(
        "ix_rollup_resolve_dimension", "rollup_resolve", ["dimension", "day"], unique=False
    )
    op.create_table(
        "surveys",
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("callback_id", sa.UUID(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_surveys")),
    )
    op.create_index("ix_surveys_complaint", "surveys", ["complaint_id"], unique=False)
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_index("ix_surveys_complaint", table_name="surveys")
    op.drop_table("surveys")
    op.drop_index("ix_rollup_resolve_dimension", table_name="rollup_resolve")
    op.drop_table("rollup_resolve")
    op.drop_index("ix_rollup_factors_dimension", table_name="rollup_factors")
    op.drop_table("rollup_factors")
    op.drop_index("ix_rollup_daily_dimension", table_name="rollup_daily")
    op.drop_table("rollup_daily")
    op.drop_table("facts")
    op.drop_index("ix_answers_complaint", table_name="answers")
    op.drop_table("answers")
    op.drop_table("alert_state")
