"""Alembic, driven from code: each service keeps its migrations in its own package and runs
them at start-up (or with ``python -m services.<name> migrate``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


async def upgrade_async(migrations_dir: Path, database_url: str) -> None:
    # Alembic's async env runs its own event loop: keep it off the caller's.
    await asyncio.to_thread(upgrade, migrations_dir, database_url)


def run_env(target_metadata: sa.MetaData) -> None:
    """The body of every service's ``env.py``: online migrations over asyncpg."""
    from alembic import context
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db import SERVER_SETTINGS

    url = context.config.get_main_option("sqlalchemy.url")

    def migrate(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=_not_messaging_table,
        )
        with context.begin_transaction():
            # Replicas starting together must not run the same migration twice.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(7245001)"))
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(
            url, hide_parameters=True, connect_args={"server_settings": SERVER_SETTINGS}
        )
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())


MESSAGING_TABLES = frozenset(
    {"outbox", "outbox_shards", "outbox_relays", "ops_audit", "inbox", "timers", "parked_events"}
)


def _not_messaging_table(
    obj: object, name: str | None, type_: str, reflected: bool, _: object
) -> bool:
    # The messaging tables are created by create_messaging_tables_v1, not from a service's
    # metadata: keep autogenerate from proposing to drop them.
    return not (type_ == "table" and name in MESSAGING_TABLES)


def create_messaging_tables_v1(op: object) -> None:
    """Outbox and inbox tables, as of version 1; called from each service's first migration."""
    op.create_table(  # type: ignore[attr-defined]
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        # json, not jsonb: the relay publishes the exact bytes the service wrote.
        sa.Column("payload", postgresql.JSON, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_outbox_unsent", "outbox", ["shard", "id"], postgresql_where=sa.text("sent_at IS NULL")
    )
    op.create_table(  # type: ignore[attr-defined]
        "outbox_shards", sa.Column("shard", sa.SmallInteger, primary_key=True)
    )
    op.execute(  # type: ignore[attr-defined]
        "INSERT INTO outbox_shards (shard) SELECT generate_series(0, 15)"
    )
    op.execute(  # type: ignore[attr-defined]
        """
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$;
        """
    )
    op.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )
    op.create_table(  # type: ignore[attr-defined]
        "inbox",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def drop_messaging_tables_v1(op: object) -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")  # type: ignore[attr-defined]
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")  # type: ignore[attr-defined]
    for table in ("inbox", "outbox_shards", "outbox"):
        op.drop_table(table)  # type: ignore[attr-defined]


def create_timer_table_v1(op: object) -> None:
    """The durable timers of shared.timers, as of version 1."""
    op.create_table(  # type: ignore[attr-defined]
        "timers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_timers_pending",
        "timers",
        ["due_at"],
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_index("ix_timers_subject", "timers", ["subject"])  # type: ignore[attr-defined]
    op.execute(  # type: ignore[attr-defined]
        """
        CREATE FUNCTION timers_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('timers', ''); RETURN NULL; END $$;
        """
    )
    op.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER timers_notify AFTER INSERT OR UPDATE OF due_at ON timers "
        "FOR EACH STATEMENT EXECUTE FUNCTION timers_notify()"
    )


def drop_timer_table_v1(op: object) -> None:
    op.execute("DROP TRIGGER IF EXISTS timers_notify ON timers")  # type: ignore[attr-defined]
    op.execute("DROP FUNCTION IF EXISTS timers_notify()")  # type: ignore[attr-defined]
    op.drop_table("timers")  # type: ignore[attr-defined]


def create_messaging_tables_v2(op: object) -> None:
    """Version 2 of the outbox: rows that can never be published are parked (``parked_at``,
    ``last_error``) or discarded by an operator; relays share the shards through heartbeats
    in ``outbox_relays``; operators' actions are recorded in ``ops_audit``; the housekeeping
    delete of sent rows has an index to use."""
    for column in (
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("parked_at", sa.DateTime(timezone=True)),
        sa.Column("discarded_at", sa.DateTime(timezone=True)),
    ):
        op.add_column("outbox", column)  # type: ignore[attr-defined]
    op.create_index(  # type: ignore[attr-defined]
        "ix_outbox_sent", "outbox", ["sent_at"], postgresql_where=sa.text("sent_at IS NOT NULL")
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_outbox_discarded",
        "outbox",
        ["discarded_at"],
        postgresql_where=sa.text("discarded_at IS NOT NULL"),
    )
    # The parked rows, few: the relay holds their keys back, operators list them.
    op.create_index(  # type: ignore[attr-defined]
        "ix_outbox_parked",
        "outbox",
        ["key"],
        postgresql_where=sa.text(
            "parked_at IS NOT NULL AND sent_at IS NULL AND discarded_at IS NULL"
        ),
    )
    op.create_table(  # type: ignore[attr-defined]
        "outbox_relays",
        sa.Column("relay_id", sa.Text, primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(  # type: ignore[attr-defined]
        "ops_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),  # outbox.retry, timer.cancel...
        sa.Column("target", sa.Text, nullable=False),  # the row's id
        sa.Column("reason", sa.Text),
    )


def drop_messaging_tables_v2(op: object) -> None:
    op.drop_table("ops_audit")  # type: ignore[attr-defined]
    op.drop_table("outbox_relays")  # type: ignore[attr-defined]
    for index in ("ix_outbox_parked", "ix_outbox_discarded", "ix_outbox_sent"):
        op.drop_index(index, table_name="outbox")  # type: ignore[attr-defined]
    for column in ("discarded_at", "parked_at", "last_error", "attempts"):
        op.drop_column("outbox", column)  # type: ignore[attr-defined]


def create_timer_table_v2(op: object) -> None:
    """Version 2 of the timers: a timer that keeps failing is parked as failed
    (``failed_at``), visible and still retried, never cancelled; pruning has an index."""
    op.add_column(  # type: ignore[attr-defined]
        "timers", sa.Column("failed_at", sa.DateTime(timezone=True))
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_timers_failed",
        "timers",
        ["id"],
        postgresql_where=sa.text(
            "failed_at IS NOT NULL AND fired_at IS NULL AND cancelled_at IS NULL"
        ),
    )
    op.create_index(  # type: ignore[attr-defined]
        "ix_timers_done",
        "timers",
        [sa.text("coalesce(fired_at, cancelled_at)")],
        postgresql_where=sa.text("fired_at IS NOT NULL OR cancelled_at IS NOT NULL"),
    )
    # Version 1 gave up on a timer after ten failures by cancelling it: bring those deadlines
    # back as failed (visible, retried) rather than leave them silently dropped.
    op.execute(  # type: ignore[attr-defined]
        "UPDATE timers SET failed_at = cancelled_at, cancelled_at = NULL "
        "WHERE cancelled_at IS NOT NULL AND fired_at IS NULL AND attempts >= 10 "
        "AND last_error IS NOT NULL"
    )


def drop_timer_table_v2(op: object) -> None:
    op.execute(  # type: ignore[attr-defined]
        "UPDATE timers SET cancelled_at = failed_at WHERE failed_at IS NOT NULL "
        "AND fired_at IS NULL AND cancelled_at IS NULL"
    )
    op.drop_index("ix_timers_done", table_name="timers")  # type: ignore[attr-defined]
    op.drop_index("ix_timers_failed", table_name="timers")  # type: ignore[attr-defined]
    op.drop_column("timers", "failed_at")  # type: ignore[attr-defined]


def create_timer_wake_v3(op: object) -> None:
    """Version 3 of the timers' wake-up: an insert notifies with the earliest due time it
    armed (seconds since the epoch), so a scheduler wakes only for a timer due before its
    own next look, not for every deadline hours away. A moved ``due_at`` still notifies
    with no time (look now)."""
    op.execute(  # type: ignore[attr-defined]
        """
        CREATE FUNCTION timers_notify_armed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE first timestamptz;
        BEGIN
            SELECT min(due_at) INTO first FROM armed;
            IF first IS NOT NULL THEN
                PERFORM pg_notify('timers', extract(epoch FROM first)::text);
            END IF;
            RETURN NULL;
        END $$;
        """
    )
    op.execute("DROP TRIGGER timers_notify ON timers")  # type: ignore[attr-defined]
    op.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER timers_notify_armed AFTER INSERT ON timers REFERENCING NEW TABLE AS "
        "armed FOR EACH STATEMENT EXECUTE FUNCTION timers_notify_armed()"
    )
    op.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER timers_notify AFTER UPDATE OF due_at ON timers "
        "FOR EACH STATEMENT EXECUTE FUNCTION timers_notify()"
    )


def drop_timer_wake_v3(op: object) -> None:
    op.execute("DROP TRIGGER timers_notify_armed ON timers")  # type: ignore[attr-defined]
    op.execute("DROP TRIGGER timers_notify ON timers")  # type: ignore[attr-defined]
    op.execute("DROP FUNCTION timers_notify_armed()")  # type: ignore[attr-defined]
    op.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER timers_notify AFTER INSERT OR UPDATE OF due_at ON timers "
        "FOR EACH STATEMENT EXECUTE FUNCTION timers_notify()"
    )
