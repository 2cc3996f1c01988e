"""The parked-events tables of shared.messaging.parked, created by a migration of each
service (``create_parked_tables_v1(op)``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

OPEN_STATUSES = ("parked", "held", "redrive")
_OPEN = "status IN ('parked', 'held', 'redrive')"

PARKED_TABLES = frozenset({"parked_events"})


def create_parked_tables_v1(op: object) -> None:
    op.create_table(  # type: ignore[attr-defined]
        "parked_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("group_id", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("key", sa.Text),
        sa.Column("event_id", postgresql.UUID(as_uuid=True)),
        sa.Column("event_type", sa.Text),
        # parked: failed, waiting for an operator; held: queued behind a parked event of its
        # key; redrive: an operator asked for a replay; redriven, discarded: done.
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error_type", sa.Text, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),  # redacted: no input values
        sa.Column("error_trace", sa.Text),  # frames only
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("payload", sa.LargeBinary),  # the record's exact bytes (may not be JSON)
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True)),  # copy on <topic>.dlq
        sa.CheckConstraint(
            "status IN ('parked', 'held', 'redrive', 'redriven', 'discarded')",
            name="ck_parked_events_status",
        ),
        sa.UniqueConstraint(
            "group_id", "topic", "partition", "offset", name="uq_parked_events_record"
        ),
    )
    # The consumer asks, per batch, which of its keys are held: open rows only.
    op.create_index(  # type: ignore[attr-defined]
        "ix_parked_events_open",
        "parked_events",
        ["group_id", "key", "id"],
        postgresql_where=sa.text(_OPEN),
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_parked_events_undead_lettered",
        "parked_events",
        ["group_id", "id"],
        postgresql_where=sa.text("dead_lettered_at IS NULL"),
    )
    # Operators' decisions go to the shared audit trail (ops_audit, shared.ops.audit).


def drop_parked_tables_v1(op: object) -> None:
    op.drop_table("parked_events")  # type: ignore[attr-defined]
