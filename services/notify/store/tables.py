"""Notify's tables. Customers' contact data is kept here (and only here, besides intake): the
service needs it to send the messages. Messages carry no address: it is looked up when they
are delivered, so a completed or corrected contact reaches the messages still waiting."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from shared.db import new_metadata

metadata = new_metadata()

_TS = sa.DateTime(timezone=True)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

# What notify knows of each case: its facts (to route an escalation to the team serving the
# new rung) and its current owner (told of warnings and breaches), from case.assigned.
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("complaint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("site", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("channel", sa.Text),
    sa.Column("severity", sa.Text),
    sa.Column("team", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("rung", sa.Text),
    sa.Column("updated_at", _TS, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("cause_event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("cause_type", sa.Text, nullable=False),
    sa.Column("complaint_id", UUID(as_uuid=True)),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("recipient_kind", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("body_sms", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _TS, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("sent_at", _TS),
    sa.Column("failed_at", _TS),
    # One message per cause, recipient, channel and template: a repeated cause sends nothing.
    sa.UniqueConstraint(
        "cause_event_id",
        "recipient_kind",
        "recipient",
        "channel",
        "template",
        name="uq_messages_cause_recipient",
    ),
    sa.Index("ix_messages_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
    sa.Index("ix_messages_listing", "status", "created_at", "id"),
    sa.Index("ix_messages_complaint", "complaint_id", "created_at"),
)

# Survey invitations: the token's hash only (the clear token is in the message to the
# customer and nowhere else).
surveys = sa.Table(
    "surveys",
    metadata,
    sa.Column("survey_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
    sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("expires_at", _TS, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)
