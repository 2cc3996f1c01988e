"""contacts, cases, messages, surveys; outbox and inbox

Revision ID: notify_initial
Revises:
Create Date: 2026-11-25 19:00:00
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_messaging_tables_v1, drop_messaging_tables_v1

revision = "notify_initial"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_contacts")),
    )
    op.create_table(
        "cases",
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=True),
        sa.Column("team", sa.Text(), nullable=True),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("rung", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_cases")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("cause_event_id", sa.UUID(), nullable=False),
        sa.Column("cause_type", sa.Text(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("recipient_kind", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("body_sms", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "cause_event_id",
            "recipient_kind",
            "recipient",
            "channel",
            "template",
            name="uq_messages_cause_recipient",
        ),
    )
    op.create_index(
        "ix_messages_due",
        "messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_messages_listing", "messages", ["status", "created_at", "id"])
    op.create_index("ix_messages_complaint", "messages", ["complaint_id", "created_at"])
    # Wake an idle delivery worker as soon as a message is written (or retried).
    op.execute(
        """
        CREATE FUNCTION messages_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('messages', ''); RETURN NULL; END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE OF next_attempt_at ON messages "
        "FOR EACH STATEMENT EXECUTE FUNCTION messages_notify()"
    )
    op.create_table(
        "surveys",
        sa.Column("survey_id", sa.UUID(), nullable=False),
        sa.Column("complaint_id", sa.UUID(), nullable=False),
        sa.Column("token_sha256", sa.Text(), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_surveys_token_sha256")),
    )
    create_messaging_tables_v1(op)


def downgrade() -> None:
    drop_messaging_tables_v1(op)
    op.drop_table("surveys")
    op.execute("DROP TRIGGER IF EXISTS messages_notify ON messages")
    op.execute("DROP FUNCTION IF EXISTS messages_notify()")
    op.drop_index("ix_messages_complaint", table_name="messages")
    op.drop_index("ix_messages_listing", table_name="messages")
    op.drop_index("ix_messages_due", table_name="messages")
    op.drop_table("messages")
    op.drop_table("cases")
    op.drop_table("contacts")
