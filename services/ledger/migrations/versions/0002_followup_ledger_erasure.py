"""ledger entries can be erased (customer.erasure_requested, customer.erased)

Revision ID: followup_ledger_erasure
Revises: 0001
Create Date: 2026-11-25 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "followup_ledger_erasure"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("erased_as", sa.Text()))
    op.add_column("ledger_entries", sa.Column("erased_at", sa.DateTime(timezone=True)))
    # A customer-level erasure finds the customer's entries by id.
    op.create_index("ix_ledger_entries_customer", "ledger_entries", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_customer", table_name="ledger_entries")
    op.drop_column("ledger_entries", "erased_at")
    op.drop_column("ledger_entries", "erased_as")
