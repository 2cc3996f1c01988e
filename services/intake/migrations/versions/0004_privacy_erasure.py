"""erasures (the ledger of erasure requests and the services' confirmations) and the
complaints' anonymisation mark

Revision ID: privacy_erasure
Revises: consumer_parked_events
Create Date: 2026-11-25 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "privacy_erasure"
down_revision = "consumer_parked_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("customer_sha256", sa.Text(), nullable=True),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_table(
        "erasure_confirmations",
        sa.Column("erasure_id", sa.UUID(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "erasure_id", "service", "key", name=op.f("pk_erasure_confirmations")
        ),
    )
    op.add_column(
        "complaints", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_complaints_retention",
        "complaints",
        ["status_changed_at"],
        postgresql_where=sa.text("anonymised_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_retention", table_name="complaints")
    op.drop_column("complaints", "anonymised_at")
    op.drop_table("erasure_confirmations")
    op.drop_table("erasures")
