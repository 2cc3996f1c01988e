"""Escalation's set-based opening (a batch of received complaints written with one
statement per chunk, the next chunk prepared while the last is written), against the real
PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from services.escalation import usecases
from services.escalation.store import opening
from shared.events.common import Channel, Severity
from shared.events.envelope import Envelope
from tests.integration.test_escalation import (
    deliver,
    escalation_db,  # noqa: F401 (fixture)
    escalation_for,
    outbox_events,
    received,
)


@pytest.mark.parametrize("chunk", [usecases.OPEN_CHUNK, 2])  # 2: several statements
async def test_a_batch_opens_each_case_once_with_its_rows_in_order(
    escalation_db,  # noqa: F811
    chunk,
    monkeypatch,
):
    monkeypatch.setattr(usecases, "OPEN_CHUNK", chunk)
    _, engine = escalation_db
    escalation = escalation_for(engine)
    earlier = received()
    await deliver(escalation, earlier, escalation.on_received)
    before = await outbox_events(engine, earlier.subject)
    fresh = [received(), received(channel=Channel.COUNTER), received(severity=Severity.MAJOR)]
    again = received(complaint_id=uuid.UUID(fresh[0].subject))  # a second delivery
    late = received(complaint_id=uuid.UUID(earlier.subject))  # its case exists already
    async with escalation.sessions.begin() as session:
        await escalation.on_received_many(session, [*fresh, again, late])

    assert await outbox_events(engine, earlier.subject) == before  # nothing new for it
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 4
        for event in fresh:
            published = await outbox_events(engine, event.subject)
            timeline = (
                await conn.execute(
                    sa.text("SELECT type, data FROM case_timeline WHERE complaint_id = :c "
                            "ORDER BY id"), {"c": uuid.UUID(event.subject)},
                )
            ).all()  # fmt: skip
            # The timeline and the outbox hold the same events, in the same order.
            assert [p["type"] for p in published] == [t.type for t in timeline]
            assert [p["data"] for p in published] == [t.data for t in timeline]
            # Each payload is the exact bytes of its CloudEvent (the attributes and the data
            # joined by PostgreSQL).
            raw = (await conn.execute(
                sa.text("SELECT payload::text FROM outbox WHERE key = :k ORDER BY id"),
                {"k": event.subject},
            )).scalars().all()  # fmt: skip
            assert [Envelope.from_bytes(r.encode()).to_bytes().decode() for r in raw] == raw
            assert published[0]["type"] == "case.opened"
            assert all(p["subject"] == event.subject for p in published)
            kinds = (
                await conn.execute(
                    sa.text("SELECT kind FROM timers WHERE subject = :s AND fired_at IS NULL "
                            "AND cancelled_at IS NULL"), {"s": event.subject},
                )
            ).scalars().all()  # fmt: skip
            assert kinds == ["case.wake"]  # one timer per case
        major = await outbox_events(engine, fresh[2].subject)
        # Straight to a senior level, in the order the case took its steps.
        assert [p["type"] for p in major] == [
            "case.opened", "case.assigned", "case.escalated", "case.assigned"
        ]  # fmt: skip


async def test_a_chunk_failing_in_flight_leaves_nothing_of_the_batch(
    escalation_db,  # noqa: F811
    monkeypatch,
):
    """Chunks are written while the next is prepared: should one fail, the failure comes out
    of the batch handler once the statement in flight has ended, the transaction writes
    nothing, and the batch replayed opens every case once."""
    monkeypatch.setattr(usecases, "OPEN_CHUNK", 2)
    _, engine = escalation_db
    escalation = escalation_for(engine)
    batch = [received() for _ in range(5)]
    write = opening.write
    calls = 0

    async def failing_second(session, params):
        nonlocal calls
        calls += 1
        if calls == 2:  # a real error of the database, in the statement in flight
            await session.execute(sa.text("SELECT 1 / 0"))
        return await write(session, params)

    monkeypatch.setattr(opening, "write", failing_second)
    with pytest.raises(DBAPIError, match="division by zero"):
        async with escalation.sessions.begin() as session:
            await escalation.on_received_many(session, batch)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 0
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 0

    monkeypatch.setattr(opening, "write", write)
    async with escalation.sessions.begin() as session:
        await escalation.on_received_many(session, batch)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 5
        assert await conn.scalar(sa.text("SELECT count(*) FROM timers")) == 5
