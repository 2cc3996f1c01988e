"""the handling figures: facts of rejections, expected vs given outcome, pauses, approval
and contact-data waits, the first breach; their rollup counters; retention calls

The rollups gain columns that old rows lack: run ``python -m services.satisfaction rebuild``
once after upgrading (the new facts come from events the store did not keep before).

Revision ID: figures_handling
Revises: surveys_token_hash
Create Date: 2026-11-25 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "figures_handling"
down_revision = "surveys_token_hash"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
# Spelled out, not imported: a migration keeps meaning what it meant when written.
ROLLUP_COLUMNS = [
    *(f"same_l{s}" for s in range(6, 0, -1)),
    *(f"other_l{s}" for s in range(6, 0, -1)),
    "unresolved_breached", "rejected", "rejected_out_of_warranty", "rejected_not_covered",
    "rejected_in_litigation", "rejected_damages_claim", "rejected_other", "expected_same",
    "expected_other", "paused", "paused_ms", "paused_open", "approval_waited",
    "approval_wait_ms", "awaiting_approval", "contact_waited", "contact_wait_ms",
    "contact_waiting", "contact_unreachable",
]  # fmt: skip


def figures_fact_columns() -> list[sa.Column]:
    return [
        sa.Column("expected_outcome", sa.Text()),
        sa.Column("resolution_kind", sa.Text()),
        sa.Column("rejected_at", TS),
        sa.Column("rejection_reason", sa.Text()),
        sa.Column("awaiting_contact", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("contact_completed_at", TS),
        sa.Column("contact_closed_at", TS),
        sa.Column("paused_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("paused_reported", sa.Float(), nullable=False, server_default="0"),
        sa.Column("paused_since", TS),
        sa.Column("resumed_last", TS),
        sa.Column("approval_wait_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("approval_wait_reported", sa.Float(), nullable=False, server_default="0"),
        sa.Column("approval_asked_last", TS),
        sa.Column("approval_decided_last", TS),
        sa.Column("first_breach_at", TS),
    ]


def upgrade() -> None:
    for column in figures_fact_columns():
        op.add_column("facts", column)
    for name in ROLLUP_COLUMNS:
        op.add_column(
            "rollup_daily", sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "retention_calls",
        sa.Column("callback_id", sa.UUID(), primary_key=True),
        sa.Column("scheduled_at", TS),
        sa.Column("due_at", TS),
        sa.Column("from_tier", sa.Text()),
        sa.Column("to_tier", sa.Text()),
        sa.Column("month", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("outcome_at", TS),
    )
    op.create_index("ix_retention_calls_scheduled", "retention_calls", ["scheduled_at"])


def downgrade() -> None:
    op.drop_table("retention_calls")
    for name in ROLLUP_COLUMNS:
        op.drop_column("rollup_daily", name)
    for column in figures_fact_columns():
        op.drop_column("facts", column.name)
