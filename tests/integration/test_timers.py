"""Durable timers against the real PostgreSQL: replicas, restarts, cancellation, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi import FastAPI
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from shared import timers
from shared.cli import build_app
from shared.cli.common import CliContext
from shared.directory import DEMO_DIRECTORY, load_directory
from shared.migrations import (
    create_timer_table_v1,
    create_timer_table_v2,
    create_timer_wake_v3,
    drop_timer_table_v1,
    drop_timer_table_v2,
    drop_timer_wake_v3,
)
from shared.ops import Conflict
from shared.ops import timers as timer_ops
from shared.ops.timers import TimerStatus
from shared.timers import Timer, TimerScheduler
from shared.web.admin_timers import admin_timers_router
from shared.web.ops_auth import Authenticator


async def without_timers(conn) -> None:
    """Intake's migrations create its own timers table (incomplete complaints): these tests
    build the table themselves, version by version."""

    def drop(sync_conn) -> None:
        if sa.inspect(sync_conn).has_table("timers"):
            operations = Operations(MigrationContext.configure(sync_conn))
            drop_timer_wake_v3(operations)
            drop_timer_table_v2(operations)
            drop_timer_table_v1(operations)

    await conn.run_sync(drop)


@pytest.fixture
async def timer_engine(messaging_engine):
    async with messaging_engine.begin() as conn:
        await without_timers(conn)

        def create(sync_conn) -> None:
            operations = Operations(MigrationContext.configure(sync_conn))
            create_timer_table_v1(operations)
            create_timer_table_v2(operations)
            create_timer_wake_v3(operations)

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


async def test_a_timer_due_after_the_next_look_does_not_wake_the_scheduler(timer_engine):
    """Arming a deadline hours away (every case has several) costs the scheduler no round;
    one due before its next look still wakes it."""
    scheduler = TimerScheduler(timer_engine, {"probe": record}, max_sleep=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    try:
        async with timer_engine.begin() as conn:
            await timers.arm(conn, "probe", "first", datetime.now(UTC) + timedelta(seconds=600))
        for _ in range(100):  # the first wakes it (its next look was an hour away)
            if scheduler.rounds >= 2:
                break
            await asyncio.sleep(0.05)
        rounds = scheduler.rounds
        async with timer_engine.begin() as conn:
            await timers.arm_many(
                conn, [("probe", f"later-{i}", datetime.now(UTC) + timedelta(hours=4), None)
                       for i in range(5)],
            )  # fmt: skip
            await timers.arm(conn, "probe", "later", datetime.now(UTC) + timedelta(hours=2))
        await asyncio.sleep(1.0)  # a wake-up would have come within milliseconds
        assert scheduler.rounds == rounds
        async with timer_engine.begin() as conn:
            await timers.arm(conn, "probe", "soon", datetime.now(UTC) + timedelta(milliseconds=200))
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


async def test_a_timer_that_keeps_failing_is_parked_as_failed_still_retried_never_cancelled(
    timer_engine,
):
    broken = True
    calls = 0

    async def fragile(session, timer: Timer) -> None:
        nonlocal calls
        calls += 1
        if broken:
            raise RuntimeError("the downstream system rejects it")
        await record(session, timer)

    async with timer_engine.begin() as conn:
        timer_id = await timers.arm(conn, "fragile", "case-1", datetime.now(UTC))
    parked_before = REGISTRY.get_sample_value("timers_parked_total", {"kind": "fragile"}) or 0
    scheduler = TimerScheduler(
        timer_engine, {"fragile": fragile}, retry_after=0.05, max_backoff=0.2, max_attempts=3
    )

    async def parked_and_retried_again() -> bool:
        async with timer_engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT attempts, failed_at FROM timers"))).one()
        return row.failed_at is not None and row.attempts >= 5  # retried after parking

    await run_schedulers([scheduler], parked_and_retried_again)
    [failed] = await timer_ops.list_timers(timer_engine)  # failed is the default status
    assert failed.id == timer_id and failed.status is TimerStatus.FAILED
    assert failed.cancelled_at is None and failed.fired_at is None
    assert "rejects it" in failed.last_error
    assert REGISTRY.get_sample_value("timers_parked_total", {"kind": "fragile"}) == (
        parked_before + 1
    )
    assert await scheduler.count_parked() == 1
    assert REGISTRY.get_sample_value("timers_parked_rows") == 1

    # The cause fixed, an operator fires it now (with a fresh count of attempts).
    broken = False
    await timer_ops.retry(timer_engine, timer_id, actor="test:ops", reason="downstream fixed")

    async def fired() -> bool:
        return bool(await effects(timer_engine))

    await run_schedulers([TimerScheduler(timer_engine, {"fragile": fragile})], fired)
    detail = await timer_ops.get_timer(timer_engine, timer_id)
    assert detail.row.status is TimerStatus.FIRED and detail.row.attempts == 0
    assert [(a.action, a.reason) for a in detail.audit] == [("timer.retry", "downstream fixed")]
    with pytest.raises(Conflict):
        await timer_ops.cancel(timer_engine, timer_id, actor="test:ops", reason="too late")
    assert await timer_ops.list_timers(timer_engine) == []


@pytest.mark.parametrize("how", ["cancel", "cancel_unless_firing"])
async def test_a_timer_cancelled_by_a_sibling_in_its_batch_is_never_fired(timer_engine, how):
    async def acknowledge(session, timer: Timer) -> None:
        await record(session, timer)
        if how == "cancel":
            await timers.cancel(session, timer.subject, ["escalate"])
        else:
            siblings = [t.id for t in await timers.pending(session, timer.subject)]
            await timers.cancel_unless_firing(session, [i for i in siblings if i != timer.id])

    fired_before = REGISTRY.get_sample_value("timers_fired_total", {"kind": "escalate"}) or 0
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with timer_engine.begin() as conn:
        for n in range(5):  # one batch: each acknowledgement due before its escalation
            await timers.arm(conn, "acknowledge", f"case-{n}", past + timedelta(seconds=n))
            await timers.arm(
                conn, "escalate", f"case-{n}", past + timedelta(seconds=n, milliseconds=1)
            )
    scheduler = TimerScheduler(timer_engine, {"acknowledge": acknowledge, "escalate": record})

    async def batch_done() -> bool:
        async with timer_engine.connect() as conn:
            return not await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL"
                )
            )

    await run_schedulers([scheduler], batch_done)
    async with timer_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT kind, fired_at IS NOT NULL, cancelled_at IS NOT NULL FROM timers")
            )
        ).all()
    assert sorted(set(rows)) == [("acknowledge", True, False), ("escalate", False, True)]
    assert len(await effects(timer_engine)) == 5  # the acknowledgements only
    assert REGISTRY.get_sample_value("timers_fired_total", {"kind": "escalate"}) in (
        None,
        fired_before,
    )


async def until(check, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_a_second_scheduler_does_not_spin_while_the_first_holds_the_due_timers(
    timer_engine,
):
    holding, release = asyncio.Event(), asyncio.Event()

    async def slow(session, timer: Timer) -> None:
        holding.set()
        await release.wait()  # the batch's rows stay locked meanwhile
        await record(session, timer)

    async with timer_engine.begin() as conn:
        for n in range(3):
            await timers.arm(conn, "slow", f"s{n}", datetime.now(UTC) - timedelta(seconds=1))
    first = TimerScheduler(timer_engine, {"slow": slow})
    second = TimerScheduler(timer_engine, {"slow": slow}, max_sleep=60)
    stop = asyncio.Event()
    task_first = asyncio.create_task(first.run(stop))
    await asyncio.wait_for(holding.wait(), 30)
    task_second = asyncio.create_task(second.run(stop))
    try:

        async def second_looked() -> bool:
            return second.rounds >= 1

        await until(second_looked)
        await asyncio.sleep(1)  # room to spin, were it to: it would loop thousands of times
        assert second.rounds <= 2
    finally:
        release.set()

        async def all_fired() -> bool:
            return len(await effects(timer_engine)) >= 3

        await until(all_fired)
        stop.set()
        await asyncio.gather(task_first, task_second)
    fired = await effects(timer_engine)
    assert len(fired) == len({timer_id for timer_id, _ in fired}) == 3


async def test_timer_admin_api_and_command_line(timer_engine, messaging_engine, databases):
    async def failing(session, timer: Timer) -> None:
        raise RuntimeError("no")

    async with timer_engine.begin() as conn:
        timer_id = await timers.arm(conn, "failing", "case-9", datetime.now(UTC))
        await conn.execute(
            sa.text("UPDATE timers SET failed_at = now(), attempts = 10, last_error = 'no'")
        )
    app = FastAPI()
    app.state.runtime = SimpleNamespace(engine=timer_engine)
    app.state.auth = Authenticator(
        load_directory(DEMO_DIRECTORY), dev_tokens=[("admin-ops", "admin-token")]
    )
    app.include_router(admin_timers_router())
    admin = {"Authorization": "Bearer admin-token"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        assert (await client.get("/admin/timers")).status_code == 401
        listed = (await client.get("/admin/timers", headers=admin)).json()
        assert [t["id"] for t in listed["items"]] == [timer_id]
        assert listed["items"][0]["status"] == "failed"
        shown = (await client.get(f"/admin/timers/{timer_id}", headers=admin)).json()
        assert shown["row"]["last_error"] == "no" and shown["payload"] == {}
        no_reason = await client.post(f"/admin/timers/{timer_id}/cancel", headers=admin, json={})
        assert no_reason.status_code == 422
        retried = await client.post(f"/admin/timers/{timer_id}/retry", headers=admin)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"

    url = timer_engine.url.render_as_string(hide_password=False)
    runner, cli_app = CliRunner(), build_app()

    def cli(*args: str, database: str = url):
        return runner.invoke(cli_app, list(args), obj=CliContext(database))

    shown = await asyncio.to_thread(cli, "timers", "show", str(timer_id))
    assert shown.exit_code == 0 and "case-9" in shown.output and "timer.retry" in shown.output
    cancelled = await asyncio.to_thread(
        cli, "timers", "cancel", str(timer_id), "--reason", "case withdrawn"
    )
    assert cancelled.exit_code == 0 and "1 timer(s) cancelled" in cancelled.output
    listed = await asyncio.to_thread(cli, "timers", "list", "--status", "cancelled")
    assert listed.exit_code == 0 and "case-9" in listed.output
    # A service without timers says so (its database has no timers table).
    without = await databases.create("satisfaction")
    none = await asyncio.to_thread(cli, "timers", "list", database=without)
    assert none.exit_code == 1 and "keeps no durable timers" in none.output


async def test_version_2_brings_back_timers_version_1_gave_up_on(messaging_engine):
    async with messaging_engine.begin() as conn:
        await without_timers(conn)

        def create_v1(sync_conn) -> None:
            create_timer_table_v1(Operations(MigrationContext.configure(sync_conn)))

        await conn.run_sync(create_v1)
        await conn.execute(
            sa.text(
                "INSERT INTO timers (kind, subject, due_at, attempts, last_error, cancelled_at) "
                "VALUES ('probe', 'gave-up', now(), 10, 'boom', now()), "
                "       ('probe', 'cancelled', now(), 0, NULL, now())"
            )
        )

        def create_v2(sync_conn) -> None:
            create_timer_table_v2(Operations(MigrationContext.configure(sync_conn)))

        await conn.run_sync(create_v2)
        rows = await conn.execute(
            sa.text(
                "SELECT subject, failed_at IS NOT NULL, cancelled_at IS NOT NULL "
                "FROM timers ORDER BY subject"
            )
        )
        assert rows.all() == [("cancelled", False, True), ("gave-up", True, False)]
        await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = await conn.execute(
            sa.text(
                "EXPLAIN DELETE FROM timers WHERE (fired_at IS NOT NULL OR cancelled_at IS NOT "
                "NULL) AND coalesce(fired_at, cancelled_at) < now() - interval '7 days'"
            )
        )
        assert "ix_timers_done" in "\n".join(plan.scalars())
