"""Satisfaction's tables. Migrations in ``services/satisfaction/migrations`` create them.

``facts``, ``surveys`` and ``answers`` hold what is known per complaint; the ``rollup_*``
tables hold the sums of every complaint's contribution per day and dimension value, which
the reports read. Facts (and the inbox) are derived from the topics and the rollups from the
store: ``rebuild`` empties and refills them. Answers and surveys are records (the topics keep
a week): kept. ``alert_state`` remembers which alerts were raised: kept."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from services.satisfaction.domain.contribution import COUNTERS
from shared.db import new_metadata

metadata = new_metadata()

TS = sa.DateTime(timezone=True)


def figures_fact_columns() -> list[sa.Column]:
    """The facts of the handling figures (migration 0006_figures_handling adds them)."""
    return [
        sa.Column("expected_outcome", sa.Text),
        sa.Column("resolution_kind", sa.Text),
        sa.Column("rejected_at", TS),
        sa.Column("rejection_reason", sa.Text),
        sa.Column("awaiting_contact", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("contact_completed_at", TS),
        sa.Column("contact_closed_at", TS),
        sa.Column("paused_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("paused_reported", sa.Float, nullable=False, server_default="0"),
        sa.Column("paused_since", TS),
        sa.Column("resumed_last", TS),
        sa.Column("approval_wait_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("approval_wait_reported", sa.Float, nullable=False, server_default="0"),
        sa.Column("approval_asked_last", TS),
        sa.Column("approval_decided_last", TS),
        sa.Column("first_breach_at", TS),
    ]


facts = sa.Table(
    "facts",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("channel", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("tier", sa.Text),
    sa.Column("received_at", TS),
    sa.Column("opened_at", TS),
    sa.Column("handled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("breached", JSONB, nullable=False, server_default="[]"),
    sa.Column("highest_rank", sa.Integer, nullable=False, server_default="-1"),
    sa.Column("highest_level", sa.Text),
    sa.Column("resolved_at", TS),
    sa.Column("reopened_at", TS),
    sa.Column("case_reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("followup_reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_round", sa.Integer, nullable=False, server_default="1"),
    *figures_fact_columns(),
)

surveys = sa.Table(
    "surveys",
    metadata,
    # Named by follow-up's opaque id. The token exists in clear in the customer's link and in
    # the notification service alone: here only its SHA-256 (from survey.invited).
    sa.Column("survey_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("token_sha256", sa.Text, unique=True),  # null until the invitation is known
    sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
    sa.Column("cycle", sa.Integer),  # the resolution cycle measured (null: a legacy survey)
    sa.Column("callback_id", UUID(as_uuid=True)),
    sa.Column("customer_id", sa.Text),
    sa.Column("tier", sa.Text),
    sa.Column("requested_at", TS),  # null while only the invitation or answer is known
    sa.Column("invited_at", TS),
    sa.Column("expires_at", TS),  # from the invitation; else requested_at + the validity
    sa.Column("answered_at", TS),
    sa.Index("ix_surveys_complaint", "complaint_id"),
)

# The system of record of what customers said: never emptied by a rebuild.
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("answer_id", UUID(as_uuid=True), primary_key=True),  # the survey.recorded id
    sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
    sa.Column("survey_id", UUID(as_uuid=True)),
    # The resolution cycle measured: one answer per complaint and cycle. Null only for a
    # legacy answer beyond the first of its cycle (kept, not counted).
    sa.Column("cycle", sa.Integer),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("factors", JSONB, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("taken_by", sa.Text, nullable=False),
    sa.Column("customer_id", sa.Text),
    sa.Column("tier", sa.Text),
    sa.Column("recorded_at", TS, nullable=False),
    sa.Index("ix_answers_complaint", "complaint_id"),
    sa.UniqueConstraint("complaint_id", "cycle", name="uq_answers_complaint_id_cycle"),
)

rollup_daily = sa.Table(
    "rollup_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    *(sa.Column(c, sa.BigInteger, nullable=False, server_default="0") for c in COUNTERS),
    sa.Index("ix_rollup_daily_dimension", "dimension", "day"),
)

rollup_resolve = sa.Table(
    "rollup_resolve",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Float, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    # Covering: a period's histogram is an index-only scan (past days rarely change).
    sa.Index(
        "ix_rollup_resolve_dimension",
        "dimension",
        "day",
        postgresql_include=["value", "bucket", "count"],
    ),
)

# The same histogram per month: a long period reads whole months here and only its partial
# edge months from the daily table (a year's p90 sums ~20x fewer rows).
rollup_resolve_month = sa.Table(
    "rollup_resolve_month",
    metadata,
    sa.Column("month", sa.Date, primary_key=True),  # the month's first day
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Float, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index(
        "ix_rollup_resolve_month_dimension",
        "dimension",
        "month",
        postgresql_include=["value", "bucket", "count"],
    ),
)

rollup_factors = sa.Table(
    "rollup_factors",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("factor", sa.Text, primary_key=True),
    sa.Column("score", sa.SmallInteger, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index(
        "ix_rollup_factors_dimension",
        "dimension",
        "day",
        postgresql_include=["value", "factor", "score", "count"],
    ),
)

alert_state = sa.Table(
    "alert_state",
    metadata,
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
    sa.Column("alerting", sa.Boolean, nullable=False),
    sa.Column("rate", sa.Float),
    sa.Column("answers", sa.Integer, nullable=False),
    sa.Column("changed_at", TS, nullable=False),
)

# What a rebuild empties and refills: the facts from the topics, the rollups from the facts,
# surveys and answers. Surveys (the token hashes) and answers are records, kept.
ROLLUPS = (rollup_daily, rollup_resolve, rollup_resolve_month, rollup_factors)
DERIVED = (facts, *ROLLUPS)

# Retention calls after a customer's tier dropped (follow-up's call-backs of kind
# ``retention``, keyed by call-back): derived from the topics, emptied by a rebuild. No
# personal data: the tiers and the outcome, not who.
retention_calls = sa.Table(
    "retention_calls",
    metadata,
    sa.Column("callback_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("scheduled_at", TS),  # null while only the outcome is known
    sa.Column("due_at", TS),
    sa.Column("from_tier", sa.Text),
    sa.Column("to_tier", sa.Text),
    sa.Column("month", sa.Text),  # YYYY-MM, the month that set the new tier
    # reached_satisfied | reached_unsatisfied | unreachable | cancelled; null: still open
    sa.Column("outcome", sa.Text),
    sa.Column("outcome_at", TS),
    sa.Index("ix_retention_calls_scheduled", "scheduled_at"),
)

DERIVED = (*DERIVED, retention_calls)
