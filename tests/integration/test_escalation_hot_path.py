"""Escalation's set-based opening (a batch of received complaints written with one statement
per table) and the timer notifications that name their due time, against the real
PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import sqlalchemy as sa

from shared.events.common import Channel, Severity
from shared.timers import TimerScheduler, arm_many
from tests.integration.test_escalation import (
    deliver,
    escalation_db,  # noqa: F401 (fixture)
    escalation_for,
    outbox_events,
    received,
)


async def test_a_batch_opens_each_case_once_with_its_rows_in_order(escalation_db):  # noqa: F811
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
            assert published[0]["type"] == "case.opened"
            assert all(p["subject"] == event.subject for p in published)
            kinds = (
                await conn.execute(
                    sa.text("SELECT kind FROM timers WHERE subject = :s AND fired_at IS NULL "
                            "AND cancelled_at IS NULL"), {"s": event.subject},
                )
            ).scalars().all()  # fmt: skip
            assert "case.breach" in kinds
        major = await outbox_events(engine, fresh[2].subject)
        # Straight to a senior level, in the order the case took its steps.
        assert [p["type"] for p in major] == [
            "case.opened", "case.assigned", "case.escalated", "case.assigned"
        ]  # fmt: skip


async def test_a_timer_armed_after_the_next_one_does_not_wake_the_scheduler(
    escalation_db,  # noqa: F811
):
    url, engine = escalation_db
    scheduler = TimerScheduler(engine, {})
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await arm_many(conn, [("case.breach", "a", now + timedelta(hours=1), None)])
    assert await scheduler.fire_due() == (0, scheduler.max_sleep)

    listener = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("timers", lambda *args: heard.put_nowait(args[-1]))
    try:
        for due in (now + timedelta(hours=2), now + timedelta(minutes=1)):
            async with engine.begin() as conn:
                later = due + timedelta(hours=1)
                await arm_many(
                    conn, [("case.warn", "b", due, None), ("case.breach", "b", later, None)]
                )
            payload = await asyncio.wait_for(heard.get(), 30)
            # The notification names the earliest due time the statement armed.
            assert abs(float(payload) - due.timestamp()) < 0.001
            assert scheduler._wakes(payload) is (due < now + timedelta(hours=1))
        # Due times changed otherwise (a retry, an operator) always wake it.
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE timers SET due_at = now() WHERE subject = 'a'"))
        assert await asyncio.wait_for(heard.get(), 30) == ""
        assert scheduler._wakes("")
    finally:
        await listener.close()
