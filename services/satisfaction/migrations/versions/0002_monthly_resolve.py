"""monthly time-to-resolve histogram; covering indexes for the histogram and factor reads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_resolve_month",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Float(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "dimension", "value", "bucket", name=op.f("pk_rollup_resolve_month")
        ),
    )
    op.create_index(
        "ix_rollup_resolve_month_dimension",
        "rollup_resolve_month",
        ["dimension", "month"],
        postgresql_include=["value", "bucket", "count"],
    )
    for table, include in (
        ("rollup_resolve", ["value", "bucket", "count"]),
        ("rollup_factors", ["value", "factor", "score", "count"]),
    ):
        op.drop_index(f"ix_{table}_dimension", table_name=table)
        op.create_index(
            f"ix_{table}_dimension", table, ["dimension", "day"], postgresql_include=include
        )
    # Existing daily rows, summed into months.
    op.execute(
        "INSERT INTO rollup_resolve_month (month, dimension, value, bucket, count) "
        "SELECT date_trunc('month', day)::date, dimension, value, bucket, sum(count) "
        "FROM rollup_resolve GROUP BY 1, 2, 3, 4"
    )


def downgrade() -> None:
    for table in ("rollup_resolve", "rollup_factors"):
        op.drop_index(f"ix_{table}_dimension", table_name=table)
        op.create_index(f"ix_{table}_dimension", table, ["dimension", "day"])
    op.drop_index("ix_rollup_resolve_month_dimension", table_name="rollup_resolve_month")
    op.drop_table("rollup_resolve_month")
