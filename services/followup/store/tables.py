"""Follow-up's tables. Migrations in ``services/followup/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import new_metadata

metadata = new_metadata()

_TS = sa.DateTime(timezone=True)

callbacks = sa.Table(
    "callbacks",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    # What caused it, unique: a redelivered or repeated cause never makes a second call-back.
    sa.Column("origin", sa.Text, nullable=False, unique=True),
    sa.Column("complaint_id", UUID(as_uuid=True)),
    sa.Column("customer_id", sa.Text),
    sa.Column("customer", JSONB, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),  # the customer's tier now
    # Before a drop (retention call-backs): a lapsed A customer is still an A customer.
    sa.Column("tier_before", sa.Text),
    # VIP 0 .. D 4, of the higher of ``tier`` and ``tier_before``: the queue's order.
    sa.Column("tier_rank", sa.SmallInteger, nullable=False),
    sa.Column("severity", sa.Text),
    sa.Column("round", sa.Integer),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("details", JSONB),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("due_at", _TS, nullable=False),
    sa.Column("overdue_at", _TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("outcome", sa.Text),
    sa.Column("customer_words", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("closed_at", _TS),
    sa.Column("went_overdue_at", _TS),  # first time it went overdue: the call-back SLA
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    # Whose queue (a staff directory team) and who took it.
    sa.Column("team", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("assignee_name", sa.Text),
    sa.Column("taken_at", _TS),
    sa.Index("ix_callbacks_queue", "due_at", "tier_rank", "id"),
    sa.Index("ix_callbacks_state_queue", "state", "due_at", "tier_rank", "id"),
    sa.Index("ix_callbacks_complaint", "complaint_id"),
    sa.Index("ix_callbacks_team_queue", "team", "due_at", "tier_rank", "id"),
    # Taken call-backs only: a new one (no assignee) costs this index no entry.
    sa.Index(
        "ix_callbacks_assignee_queue",
        "assignee",
        "due_at",
        "tier_rank",
        "id",
        postgresql_where=sa.text("assignee IS NOT NULL"),
    ),
    # One open call per customer and kind about their activity: a further purchase joins it.
    sa.Index(
        "uq_callbacks_open_activity_call",
        "customer_id",
        "kind",
        unique=True,
        postgresql_where=sa.text(
            "kind IN ('after_sale', 'after_exchange') AND state IN ('scheduled', 'due', 'overdue')"
        ),
    ),
)

activities = sa.Table(
    "callback_activities",
    metadata,
    # Each purchase or exchange called about, once: its reference (order or receipt number),
    # else its event id. ``callback_id``: the call that covers it.
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("reference", sa.Text, primary_key=True),
    sa.Column("callback_id", UUID(as_uuid=True), sa.ForeignKey("callbacks.id")),
    sa.Column("at", _TS, nullable=False),
    sa.Index("ix_callback_activities_callback", "callback_id"),
)

attempts = sa.Table(
    "callback_attempts",
    metadata,
    sa.Column("callback_id", UUID(as_uuid=True), sa.ForeignKey("callbacks.id"), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("reached", sa.Boolean, nullable=False),
    sa.Column("satisfied", sa.Boolean),
    sa.Column("customer_words", sa.Text),
    sa.Column("note", sa.Text),
)

survey_requests = sa.Table(
    "survey_requests",
    metadata,
    # No token here: the notification service makes it and keeps it (only its hash travels).
    sa.Column("survey_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("callback_id", UUID(as_uuid=True), sa.ForeignKey("callbacks.id"), nullable=False),
    sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
    sa.Column("cycle", sa.Integer),  # the resolution cycle measured; null: a legacy second one
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_at", _TS, nullable=False),
    sa.UniqueConstraint("callback_id", name="uq_survey_requests_callback_id"),
    # One survey per complaint and resolution cycle (a remedial call-back asks for none).
    sa.UniqueConstraint("complaint_id", "cycle", name="uq_survey_requests_complaint_id_cycle"),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("card", JSONB, nullable=False),
    sa.Column("tier", sa.Text),  # the tier of the last reviewed month
    sa.Column("reviewed_month", sa.Date),  # the last month reviewed
    sa.Column("last_activity_month", sa.Date, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

visit_days = sa.Table(
    "customer_visit_days",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("month", sa.Date, nullable=False),
    sa.Index("ix_visit_days_month", "customer_id", "month"),
)

tier_history = sa.Table(
    "customer_tier_history",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("visits", sa.Integer, nullable=False),
    sa.Column("tier", sa.Text),
    sa.Column("dropped_from", sa.Text),
    sa.Column("reviewed_at", _TS, nullable=False),
)
