"""``shared.db.driver_connection``: statements sent to asyncpg straight belong to the session's
(or the connection's) transaction, even when they come before any statement of SQLAlchemy's,
which begins its transaction lazily."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from shared.db import driver_connection, session_factory

INSERT = "INSERT INTO inbox (event_id, topic, event_type) VALUES ($1, 't', 'test.a')"


async def count(engine, event_id: uuid.UUID) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event_id}
        )
    return int(found or 0)


async def test_a_first_statement_through_asyncpg_rolls_back_with_the_session(messaging_engine):
    sessions = session_factory(messaging_engine)
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await (await driver_connection(session)).execute(INSERT, dropped)
            raise RuntimeError("the handler failed")
    async with sessions.begin() as session:
        await (await driver_connection(session)).execute(INSERT, kept)
    assert await count(messaging_engine, dropped) == 0
    assert await count(messaging_engine, kept) == 1


async def test_asyncpg_and_sqlalchemy_statements_share_one_transaction(messaging_engine):
    first, second = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with messaging_engine.begin() as conn:
            await (await driver_connection(conn)).execute(INSERT, first)
            await conn.execute(
                sa.text("INSERT INTO inbox (event_id, topic, event_type) VALUES (:id, 't', 'x')"),
                {"id": second},
            )
            await (await driver_connection(conn)).execute("SELECT 1")  # begun once, not twice
            raise RuntimeError("rolled back")
    assert await count(messaging_engine, first) == 0
    assert await count(messaging_engine, second) == 0
