"""call-backs after a purchase or an exchange; a lapsed customer keeps their value in the queue

Revision ID: followup_activity_callbacks
Revises: surveys_survey_id
Create Date: 2026-11-25 22:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "followup_activity_callbacks"
down_revision = "surveys_survey_id"
branch_labels = None
depends_on = None

# Queue ranks as services.followup.callbacks.queue_rank gives them (VIP 0 .. D 4).
RANKS = {"VIP": 0, "A": 1, "B": 2, "C": 3, "D": 4}


def upgrade() -> None:
    # The tier before a drop (retention call-backs): the queue sorts by the higher one.
    op.add_column("callbacks", sa.Column("tier_before", sa.Text()))
    op.execute(
        "UPDATE callbacks SET tier_before = details #>> '{tier_change,from_tier}' "
        "WHERE kind = 'retention' AND details ? 'tier_change'"
    )
    ranks = ", ".join(f"('{tier}', {rank})" for tier, rank in RANKS.items())
    op.execute(
        f"UPDATE callbacks c SET tier_rank = LEAST(c.tier_rank, r.rank) "
        f"FROM (VALUES {ranks}) AS r(tier, rank) "
        "WHERE c.tier_before = r.tier"
    )
    # One open call per customer and kind about their activity: a further purchase joins it.
    op.create_index(
        "uq_callbacks_open_activity_call",
        "callbacks",
        ["customer_id", "kind"],
        unique=True,
        postgresql_where=sa.text(
            "kind IN ('after_sale', 'after_exchange') AND state IN ('scheduled', 'due', 'overdue')"
        ),
    )
    # Each purchase or exchange called about, once (by its reference, else its event id).
    op.create_table(
        "callback_activities",
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("customer_id", sa.Text(), primary_key=True),
        sa.Column("reference", sa.Text(), primary_key=True),
        sa.Column("callback_id", UUID(as_uuid=True), sa.ForeignKey("callbacks.id")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_callback_activities_callback", "callback_activities", ["callback_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_activities_callback", table_name="callback_activities")
    op.drop_table("callback_activities")
    op.drop_index("uq_callbacks_open_activity_call", table_name="callbacks")
    op.drop_column("callbacks", "tier_before")
