"""Escalation's set-based opening (a batch of received complaints written with one
statement per chunk, the next chunk prepared while the last is written), against the real
PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg
import pytest
import sqlalchemy as sa

from services.escalation import usecases
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
):
    _, engine = escalation_db
    escalation = replace(escalation_for(engine), open_chunk=chunk)
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
):
    """Chunks are written while the next is prepared: should one fail, the failure comes out
    of the batch handler once the statement in flight has ended, the transaction writes
    nothing, and the batch replayed opens every case once."""
    _, engine = escalation_db
    escalation = replace(escalation_for(engine), open_chunk=2)
    batch = [received() for _ in range(5)]
    # A real error of the database, in the second chunk's statement: a trigger refuses the
    # third case.
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "CREATE FUNCTION refuse_case() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.complaint_id = '{batch[2].subject}' THEN "
            "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$"
        ))  # fmt: skip
        await conn.execute(sa.text(
            "CREATE TRIGGER refuse BEFORE INSERT ON cases FOR EACH ROW "
            "EXECUTE FUNCTION refuse_case()"
        ))  # fmt: skip
    with pytest.raises(asyncpg.RaiseError, match="refused by the test"):
        async with escalation.sessions.begin() as session:
            await escalation.on_received_many(session, batch)
    async with engine.begin() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 0
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 0
        await conn.execute(sa.text("DROP TRIGGER refuse ON cases"))

    async with escalation.sessions.begin() as session:
        await escalation.on_received_many(session, batch)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 5
        assert await conn.scalar(sa.text("SELECT count(*) FROM timers")) == 5
