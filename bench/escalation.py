"""Durable timers at escalation's scale, on escalation's own schema (its migrations) in a fresh
database: 100,000 armed timers, then

1. idle: the scheduler process's CPU while every timer is far in the future;
2. prompt: firing lateness (fired - due) of timers falling due one after another among the
   100,000 armed ones;
3. burst: all 100,000 due at once: how fast one scheduler drains them, and their lateness.

The scheduler runs in its own process (``python -m bench.escalation scheduler ...``) with a
handler that only notes its lateness, so the figures are the scheduler's, not the cases'.
CPU comes from ``time.process_time()`` inside that process. Bounded: BENCH_ESCALATION_TIMERS
(100000), BENCH_ESCALATION_IDLE_SECONDS (10)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import asyncpg

from bench._db import scratch_database
from tests.support.servers import ROOT

TIMERS = int(os.environ.get("BENCH_ESCALATION_TIMERS", "100000"))
IDLE_SECONDS = float(os.environ.get("BENCH_ESCALATION_IDLE_SECONDS", "10"))
PROMPT_TIMERS = int(os.environ.get("BENCH_ESCALATION_PROMPT_TIMERS", "500"))
PROMPT_SPREAD = 5.0  # seconds over which the prompt timers fall due


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


# ---- the scheduler process ------------------------------------------------------------------


async def scheduler_process(url: str, phase: str, seconds: float, expect: int) -> None:
    """Run a TimerScheduler; print one JSON line with its CPU and the lateness it saw."""
    from shared.db import create_engine
    from shared.timers import TimerScheduler

    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=2)
    lateness: list[float] = []
    all_fired = asyncio.Event()

    async def note(session, timer) -> None:
        lateness.append((datetime.now(UTC) - timer.due_at).total_seconds())
        if len(lateness) == expect:
            all_fired.set()

    scheduler = TimerScheduler(engine, {"bench": note}, batch_size=500)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(1.0)  # start-up (connect, first look) is not idling
    cpu0, wall0 = time.process_time(), time.monotonic()
    # Wait without polling: a polling loop here would be CPU charged to the idle scheduler.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_fired.wait(), seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    stop.set()
    await task
    await engine.dispose()
    print(json.dumps({"phase": phase, "cpu": cpu, "wall": wall, "lateness": lateness}))


def run_scheduler(url: str, phase: str, seconds: float, expect: int = 0) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.escalation", "scheduler", url, phase, str(seconds),
         str(expect)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=seconds + 120,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the benchmark --------------------------------------------------------------------------


async def arm_far_future(url: str, count: int) -> float:
    """Arm ``count`` timers due in 1..2 days (one statement: arming in bulk, like a backlog)."""
    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    await conn.execute(
        "INSERT INTO timers (kind, subject, due_at, payload) "
        "SELECT 'bench', 'case-' || i, now() + interval '1 day' + i * interval '1 second', "
        "jsonb_build_object('i', i) FROM generate_series(1, $1) AS i",
        count,
    )
    await conn.execute("ANALYZE timers")
    elapsed = time.perf_counter() - started
    await conn.close()
    return elapsed


async def arm_soon(url: str, count: int, spread: float, start_in: float) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute(
        "INSERT INTO timers (kind, subject, due_at) SELECT 'bench', 'soon-' || i, "
        "now() + make_interval(secs => $2 + i * $3) FROM generate_series(0, $1 - 1) AS i",
        count,
        start_in,
        spread / count,
    )
    await conn.close()


async def make_all_due(url: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute(
        "UPDATE timers SET due_at = now() WHERE fired_at IS NULL AND cancelled_at IS NULL"
    )
    await conn.close()


def report(title: str, lateness: list[float]) -> None:
    ms = [x * 1000 for x in lateness]
    print(
        f"  {title}: fired {len(ms)}; lateness p50 {percentile(ms, 50):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {max(ms, default=0):.1f} ms",
        flush=True,
    )


async def bench() -> None:
    async with scratch_database("escalation") as url:
        took = await arm_far_future(url, TIMERS)
        print(f"  armed {TIMERS} timers (due in 1-2 days) in {took:.1f} s", flush=True)

        idle = await asyncio.to_thread(run_scheduler, url, "idle", IDLE_SECONDS)
        print(
            f"  idle: scheduler CPU {idle['cpu'] * 1000:.1f} ms over {idle['wall']:.1f} s "
            f"({100 * idle['cpu'] / idle['wall']:.3f} % of a core) with {TIMERS} armed",
            flush=True,
        )

        # Timers falling due one after another while the scheduler sleeps between them.
        await arm_soon(url, PROMPT_TIMERS, PROMPT_SPREAD, start_in=2.0)
        prompt = await asyncio.to_thread(
            run_scheduler, url, "prompt", PROMPT_SPREAD + 10, PROMPT_TIMERS
        )
        report(f"prompt ({PROMPT_TIMERS} due over {PROMPT_SPREAD:.0f} s)", prompt["lateness"])

        await make_all_due(url)
        burst = await asyncio.to_thread(run_scheduler, url, "burst", 300, TIMERS)
        report(f"burst (all {TIMERS} due at once)", burst["lateness"])
        fired = len(burst["lateness"])
        print(
            f"  burst: one scheduler drained {fired} in {burst['wall']:.1f} s "
            f"({fired / max(burst['wall'], 1e-9):.0f} timers/s)",
            flush=True,
        )


def run() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "scheduler":
        _, _, db, phase_name, secs, expected = sys.argv
        asyncio.run(scheduler_process(db, phase_name, float(secs), int(expected)))
    else:
        run()
