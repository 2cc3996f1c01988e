"""Durable timers against the real PostgreSQL: replicas, restarts, cancellation, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from shared import timers
from shared.migrations import create_timer_table_v1, create_timer_table_v2
from shared.timers import Timer, TimerScheduler


@pytest.fixture
async def timer_engine(messaging_engine):
    async with messaging_engine.begin() as conn:

        def create(sync_conn) -> None:
            operations = Operations(MigrationContext.configure(sync_conn))
            create_timer_table_v1(operations)
            create_timer_table_v2(operations)

        await conn.run_sync(create)
        await conn.execute(sa.text("CREATE TABLE effects (timer_id bigint, subject text)"))
    return messaging_engine


async def record(session, timer: Timer) -> None:
    await session.execute(
        sa.text("INSERT INTO effects VALUES (:id, :subject)"),
        {"id": timer.id, "subject": timer.subject},
    )


async def effects(engine) -> list[tuple[int, str]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(sa.text("SELECT * FROM effects ORDER BY 1"))]


async def run_schedulers(schedulers, until, timeout: float = 30) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in schedulers]
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await until():
            assert asyncio.get_running_loop().time() < deadline, "timers did not fire in time"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_two_schedulers_fire_each_timer_exactly_once(timer_engine):
    now = datetime.now(UTC)
    async with timer_engine.begin() as conn:
        for i in range(300):
            await timers.arm(conn, "probe", f"s{i}", now + timedelta(milliseconds=5 * i))
    schedulers = [TimerScheduler(timer_engine, {"probe": record}, batch_size=20) for _ in range(2)]

    async def all_fired() -> bool:
        return len(await effects(timer_engine)) >= 300

    await run_schedulers(schedulers, all_fired)
    fired = await effects(timer_engine)
    assert len(fired) == len({timer_id for timer_id, _ in fired}) == 300
    async with timer_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM timers WHERE fired_at IS NULL")) == 0


async def test_timers_that_fell_due_while_down_fire_at_start_and_cancelled_ones_never(timer_engine):
    past = datetime.now(UTC) - timedelta(hours=1)
    async with timer_engine.begin() as conn:
        await timers.arm(conn, "probe", "overdue", past, {"why": "missed while down"})
        await timers.arm(conn, "probe", "cancelled", past)
        await timers.arm(conn, "probe", "later", datetime.now(UTC) + timedelta(days=1))
        assert await timers.cancel(conn, "cancelled") == 1
        assert [t.subject for t in await timers.pending(conn, "later")] == ["later"]

    async def overdue_fired() -> bool:
        return bool(await effects(timer_engine))

    await run_schedulers([TimerScheduler(timer_engine, {"probe": record})], overdue_fired)
    await asyncio.sleep(0.3)
    assert [subject for _, subject in await effects(timer_engine)] == ["overdue"]


async def test_a_timer_armed_while_the_scheduler_sleeps_fires_without_waiting_for_the_poll(
    timer_engine,
):
    scheduler = TimerScheduler(timer_engine, {"probe": record}, max_sleep=60)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(0.5)  # asleep, with nothing armed, for up to 60 s
    async with timer_engine.begin() as conn:
        await timers.arm(conn, "probe", "soon", datetime.now(UTC) + timedelta(milliseconds=200))
    try:
        for _ in range(100):
            if await effects(timer_engine):
                break
            await asyncio.sleep(0.1)
        assert [s for _, s in await effects(timer_engine)] == ["soon"]
    finally:
        stop.set()
        await task


async def test_a_failing_handler_leaves_no_effect_and_is_retried(timer_engine):
    calls = 0

    async def flaky(session, timer: Timer) -> None:
        nonlocal calls
        calls += 1
        await record(session, timer)  # rolled back with the failure
        if calls <= 2:  # the batch's try and its one-by-one replay
            raise RuntimeError("downstream hiccup")

    async with timer_engine.begin() as conn:
        await timers.arm(conn, "flaky", "x", datetime.now(UTC))
    scheduler = TimerScheduler(timer_engine, {"flaky": flaky}, retry_after=0.2)

    async def fired() -> bool:
        return bool(await effects(timer_engine))

    await run_schedulers([scheduler], fired)
    assert calls == 3
    assert len(await effects(timer_engine)) == 1
    async with timer_engine.connect() as conn:
        row = (await conn.execute(sa.text("SELECT attempts, last_error FROM timers"))).one()
    assert row.attempts == 1 and "downstream hiccup" in row.last_error


async def test_one_failing_timer_does_not_hold_back_the_others_in_its_batch(timer_engine):
    async def picky(session, timer: Timer) -> None:
        await record(session, timer)
        if timer.subject == "bad":
            raise RuntimeError("cannot handle this one")

    now = datetime.now(UTC) - timedelta(seconds=1)
    async with timer_engine.begin() as conn:
        for subject in ("a", "bad", "b"):
            await timers.arm(conn, "picky", subject, now)
    scheduler = TimerScheduler(timer_engine, {"picky": picky}, retry_after=60)

    async def good_ones_fired() -> bool:
        return len(await effects(timer_engine)) >= 2

    await run_schedulers([scheduler], good_ones_fired)
    assert sorted(s for _, s in await effects(timer_engine)) == ["a", "b"]
    async with timer_engine.connect() as conn:
        bad = (await conn.execute(sa.text(
            "SELECT attempts, fired_at FROM timers WHERE subject = 'bad'"))).one()  # fmt: skip
    assert bad.attempts == 1 and bad.fired_at is None
