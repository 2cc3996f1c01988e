"""The ledger's tables. Migrations in ``services/ledger/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import new_metadata

metadata = new_metadata()

_TS = sa.DateTime(timezone=True)


def _steps() -> list[sa.Column]:
    columns = []
    for step in ("acknowledged", "investigated", "planned", "resolved"):
        columns += [
            sa.Column(f"{step}_at", _TS),
            sa.Column(f"{step}_by", sa.Text),
            sa.Column(f"{step}_by_name", sa.Text),
        ]
    return columns


entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("received_at", _TS),
    sa.Column("channel", sa.Text),
    sa.Column("site", sa.Text),
    sa.Column("subject_kind", sa.Text),
    sa.Column("subject_reference", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("valid", sa.Boolean),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("customer_id", sa.Text),
    sa.Column("tier", sa.Text),
    sa.Column("expected_outcome", sa.Text),
    *_steps(),
    sa.Column("findings", sa.Text),
    sa.Column("plan", sa.Text),
    sa.Column("resolution", sa.Text),
    sa.Column("compensation", sa.Text),
    sa.Column("clocks_met", JSONB, nullable=False, server_default="{}"),
    sa.Column("breached_clocks", JSONB, nullable=False, server_default="[]"),
    sa.Column("suspended_at", _TS),
    sa.Column("closed_at", _TS),
    sa.Column("closed_outcome", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("round", sa.Integer, nullable=False, server_default="1"),
    sa.Column("reopened_at", _TS),
    sa.Column("case_reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("followup_reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rung", sa.Text),
    sa.Column("highest_rung", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("assignee_name", sa.Text),
    sa.Column("satisfaction", JSONB, nullable=False, server_default="[]"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", _TS),
    # Erased: the pseudonym that replaced the customer id (a late event is erased again).
    sa.Column("erased_as", sa.Text),
    sa.Column("erased_at", _TS),
    # The report's order and filters: by registration time, then by site, category, team.
    sa.Index("ix_ledger_entries_received", "received_at", "complaint_id"),
    sa.Index("ix_ledger_entries_status", "status", "received_at"),
    sa.Index("ix_ledger_entries_customer", "customer_id"),
)

month_end_runs = sa.Table(
    "month_end_runs",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),  # YYYY-MM
    sa.Column("month_end", _TS, nullable=False),
    sa.Column("time_zone", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("ran_at", _TS, nullable=False),
)

month_end_flags = sa.Table(
    "month_end_flags",
    metadata,
    sa.Column("month", sa.Text, sa.ForeignKey("month_end_runs.month"), primary_key=True),
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("received_at", _TS),
    sa.Column("age_days", sa.Integer, nullable=False),
    sa.Column("rung", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("site", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
)

summaries = sa.Table(
    "summaries",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date, nullable=False),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("time_zone", sa.Text, nullable=False),
    sa.Column("figures", JSONB, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Index("ix_summaries_created", "created_at", "id"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    # The report-back clock: from the latest finish (resolved/closed/suspended).
    sa.Column("finished_at", _TS),
    sa.Column("report_due_at", _TS),
    sa.Column("went_overdue_at", _TS),
    sa.Column("team", sa.Text),
    # The review itself, once the team reports back.
    sa.Column("root_cause", sa.Text),
    sa.Column("root_cause_group", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("recorded_at", _TS),
    sa.Column("recorded_by", sa.Text),
    sa.Column("recorded_by_name", sa.Text),
    sa.Column("taxonomy_version", sa.Text),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Index("ix_reviews_due", "report_due_at"),
)

actions = sa.Table(
    "review_actions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "complaint_id", UUID(as_uuid=True), sa.ForeignKey("reviews.complaint_id"), nullable=False
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("due_at", _TS, nullable=False),
    sa.Column("reminded_at", _TS),
    sa.Column("went_overdue_at", _TS),
    sa.Column("done_at", _TS),
    sa.Column("done_by", sa.Text),
    sa.Column("note", sa.Text),
    sa.Index("ix_review_actions_complaint", "complaint_id"),
)
