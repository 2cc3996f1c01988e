"""Escalation's tables. Migrations in ``services/escalation/migrations`` create them; the
timers, outbox and inbox tables come from shared.migrations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import new_metadata

metadata = new_metadata()

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("highest_level", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("customer", JSONB, nullable=False),
    sa.Column("policy_version", sa.Text, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True)),
    sa.Column("clocks", JSONB, nullable=False),
    sa.Column("climb_due", sa.DateTime(timezone=True)),
    sa.Column("paused_at", sa.DateTime(timezone=True)),
    sa.Column("status_before_pause", sa.Text),
    sa.Column("paused_seconds", sa.Float, nullable=False),
    sa.Column("outcome", sa.Text),
    # Derived from the clocks, kept for the list filters: the earliest running deadline
    # (null while paused or not being worked) and whether any clock was breached.
    sa.Column("next_deadline", sa.DateTime(timezone=True)),
    sa.Column("breached", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Who owns it (staff directory ids): the team serving its rung and who took it.
    sa.Column("site", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("assignee_name", sa.Text),
    # Decisions waiting for authority (a plan, a compensation), abuse flags, a refusal of
    # service, pause reminders: the aggregate's authority state, one document.
    sa.Column("authority", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    # Derived, for the approvers' queue: a plan or a compensation awaits approval.
    sa.Column("awaiting_approval", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_cases_received", "received_at", "complaint_id"),
    sa.Index("ix_cases_status", "status", "received_at"),
    sa.Index("ix_cases_level", "level", "received_at"),
    sa.Index("ix_cases_next_deadline", "next_deadline"),
    sa.Index("ix_cases_team", "team", "received_at"),
    sa.Index("ix_cases_assignee", "assignee", "received_at"),
    sa.Index(
        "ix_cases_awaiting_approval",
        "received_at",
        postgresql_where=sa.text("awaiting_approval"),
    ),
)

# Every step and escalation of a case, as published: the complaint ledger of DOMAIN.md.
timeline = sa.Table(
    "case_timeline",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "complaint_id", UUID(as_uuid=True), sa.ForeignKey("cases.complaint_id"), nullable=False
    ),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("by", sa.Text),
    sa.Column("data", JSONB, nullable=False),
    sa.Index("ix_case_timeline_complaint", "complaint_id", "id"),
)

# Each clock (and each level's time on the on-site ladder) once decided: met in time or not.
sla_outcomes = sa.Table(
    "sla_outcomes",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True),
    sa.Column("clock", sa.Text, primary_key=True),
    sa.Column("level", sa.Text, primary_key=True),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
    sa.Column("on_time", sa.Boolean, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sla_outcomes_decided", "decided_at"),
)
