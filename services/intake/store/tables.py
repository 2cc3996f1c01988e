"""Intake's tables. Migrations in ``services/intake/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db import new_metadata

metadata = new_metadata()

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("severity_reasons", JSONB, nullable=False),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("customer_id", sa.Text),
    sa.Column("customer_tier", sa.Text, nullable=False),
    sa.Column("customer", JSONB, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("subject", JSONB),
    sa.Column("expected_outcome", JSONB),
    sa.Column("documents", JSONB, nullable=False),
    sa.Column("flags", JSONB, nullable=False),
    sa.Column("in_litigation", sa.Boolean, nullable=False),
    sa.Column("covered", sa.Boolean, nullable=False),
    sa.Column("missing_fields", JSONB, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("acknowledge_by", sa.DateTime(timezone=True)),
    sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("escalation_level", sa.Text),
    # Set when the complaint's personal data was erased (on request or after retention).
    sa.Column("anonymised_at", sa.DateTime(timezone=True)),
    # The deadlines escalation promised (case.opened / resumed / reopened): clock -> time.
    sa.Column("deadlines", JSONB),
    # Reminders sent while the complaint awaited the customer's contact data.
    sa.Column("reminders_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_complaints_received", "received_at", "id"),
    sa.Index("ix_complaints_customer", "customer_id", "received_at"),
    sa.Index("ix_complaints_status", "status", "received_at"),
    sa.Index("ix_complaints_channel", "channel", "received_at"),
    sa.Index(
        "ix_complaints_retention",
        "status_changed_at",
        postgresql_where=sa.text("anonymised_at IS NULL"),
    ),
)

status_history = sa.Table(
    "complaint_status_history",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("complaint_id", UUID(as_uuid=True), sa.ForeignKey("complaints.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_id", UUID(as_uuid=True)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_status_history_complaint", "complaint_id", "id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
)

# The ledger of erasures: what was asked when, never whose data it was (only a hash of the
# customer id, to answer "was this customer erased?").
erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("customer_sha256", sa.Text),
    sa.Column("complaints", sa.Integer, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
)

# Each service's customer.erased, per request (a complaint's, or the customer-level one).
erasure_confirmations = sa.Table(
    "erasure_confirmations",
    metadata,
    sa.Column("erasure_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# The customer's "My complaint" links: only the SHA-256 of each token (notify mints the token
# and publishes its hash in customer_link.issued; the clear token is in the customer's message
# alone). A complaint may have several (its receipt, each reminder).
customer_links = sa.Table(
    "customer_links",
    metadata,
    sa.Column("token_sha256", sa.Text, primary_key=True),
    sa.Column("complaint_id", UUID(as_uuid=True), sa.ForeignKey("complaints.id"), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_customer_links_complaint", "complaint_id"),
)
