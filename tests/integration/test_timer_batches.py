"""Set-based timer firing against the real PostgreSQL: a kind's batch handler takes the due
timers together, each fires once, a subject's timers keep their order, and a batch that
fails falls back to the per-timer handlers so only the bad timer is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shared import timers
from shared.db import session_factory
from shared.timers import Timer, TimerScheduler
from tests.integration.test_timers import effects, record, run_schedulers, timer_engine

__all__ = ["timer_engine"]  # the fixture, shared with test_timers


async def arm_all(engine, wanted: list[tuple[str, str, datetime]]) -> None:
    async with session_factory(engine).begin() as session:
        await timers.arm_many(session, [(k, s, due, {}) for k, s, due in wanted])


async def test_a_batch_handler_fires_due_timers_together_and_once(timer_engine):
    now = datetime.now(UTC) - timedelta(seconds=1)
    # Subject x: a batched timer, then an unbatched one, then a batched one again.
    wanted = [("b", f"s{i}", now + timedelta(milliseconds=i)) for i in range(6)]
    wanted += [("b", "x", now), ("plain", "x", now + timedelta(milliseconds=10)),
               ("b", "x", now + timedelta(milliseconds=20))]  # fmt: skip
    await arm_all(timer_engine, wanted)
    sizes: list[int] = []
    order: list[str] = []

    async def many(session, due: list[Timer]) -> None:
        sizes.append(len(due))
        for timer in due:
            order.append(f"{timer.kind}:{timer.subject}")
            await record(session, timer)

    async def one(session, timer: Timer) -> None:
        order.append(f"{timer.kind}:{timer.subject}")
        await record(session, timer)

    scheduler = TimerScheduler(timer_engine, {"b": one, "plain": one}, batch_handlers={"b": many})

    async def all_fired() -> bool:
        return len(await effects(timer_engine)) >= len(wanted)

    await run_schedulers([scheduler], all_fired)
    found = await effects(timer_engine)
    assert len(found) == len(wanted) == len({timer_id for timer_id, _ in found})
    assert max(sizes) > 1
    assert [o for o in order if o.endswith(":x")] == ["b:x", "plain:x", "b:x"]


async def test_a_failing_batch_falls_back_to_one_by_one(timer_engine):
    now = datetime.now(UTC) - timedelta(seconds=1)
    await arm_all(timer_engine, [("b", f"s{i}", now) for i in range(5)] + [("b", "bad", now)])
    tried: list[int] = []

    async def many(session, due: list[Timer]) -> None:
        tried.append(len(due))
        raise RuntimeError("one of them is bad")

    async def one(session, timer: Timer) -> None:
        if timer.subject == "bad":
            raise RuntimeError("bad")
        await record(session, timer)

    scheduler = TimerScheduler(timer_engine, {"b": one}, batch_handlers={"b": many})

    async def five_fired() -> bool:
        return len(await effects(timer_engine)) >= 5

    await run_schedulers([scheduler], five_fired)
    assert sorted(s for _, s in await effects(timer_engine)) == [f"s{i}" for i in range(5)]
    assert tried and tried[0] == 6
    async with timer_engine.connect() as conn:
        bad = (
            await conn.execute(
                sa.text("SELECT attempts, fired_at FROM timers WHERE subject = 'bad'")
            )
        ).one()
    assert bad.attempts >= 1 and bad.fired_at is None  # retried later, never lost
