"""Follow-up figures: how fast resolved cases become call-backs (Kafka -> consumer ->
database), how late call-backs fall due when many are due together, and how fast agents
page the work queue and record outcomes. One in-process replica (relay, consumer, timer
scheduler and the API through ASGI) on a fresh database and its own topics; loopback only.

``BENCH_FOLLOWUP_CASES`` (default 1000) sets the size."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench._db import KAFKA, async_url, scratch_database
from services.followup.app import create_app
from services.followup.settings import FollowupSettings
from shared.events.common import Channel, ContactCard, Severity, Tier
from shared.events.envelope import new_event
from shared.events.handling import CaseResolved
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics

CASES = int(os.environ.get("BENCH_FOLLOWUP_CASES", "1000"))
TOKEN = "bench-agent-token"
AGENT = {"Authorization": f"Bearer {TOKEN}"}
DUE_AFTER = 3600  # far: the due phase moves them all to one instant itself
POLICY = f"""
version: bench
callback: {{after_resolution: {DUE_AFTER}s, remedial_after: 1s, overdue_after: 1h}}
attempts: {{max: 3, spacing: [1h]}}
"""
TIERS = [Tier.VIP, Tier.A, Tier.B, Tier.C, Tier.C]


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def resolved(i: int, at: datetime):
    complaint = uuid.uuid4()
    data = {
        "complaint_id": complaint, "at": at, "by": "agent:bench", "round": 1,
        "resolution": "refunded", "severity": Severity.GENERAL, "channel": Channel.WEB,
        "category": "billing", "highest_level": "frontline", "clocks_met": {},
        "customer": ContactCard(id=f"c{i}", name="李娜", phone="13800000000",
                                tier=TIERS[i % len(TIERS)]),
        "tier": TIERS[i % len(TIERS)], "level": "frontline",
    }  # fmt: skip
    model = CaseResolved(**{k: v for k, v in data.items() if k in CaseResolved.model_fields})
    return new_event("/bench/escalation", str(complaint), model)


async def count(conn: asyncpg.Connection, sql: str) -> int:
    return await conn.fetchval(sql)


async def wait_until(conn: asyncpg.Connection, sql: str, target: int, limit: float) -> float:
    started = time.monotonic()
    while await count(conn, sql) < target:
        if time.monotonic() - started > limit:
            raise TimeoutError(f"{sql}: not {target} in {limit}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def bench() -> None:
    topics = Topics(f"bench-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=3)
    async with scratch_database("followup") as dsn:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as policy:
            policy.write(POLICY)
        settings = FollowupSettings(
            database_url=async_url(dsn), kafka_bootstrap_servers=KAFKA,
            kafka_topic_prefix=topics.prefix, policy_file=Path(policy.name),
            ops_tokens=f"frontline-li:{TOKEN}", log_level="WARNING", timer_max_sleep_seconds=5,
        )  # fmt: skip
        app = create_app(settings)
        conn = await asyncpg.connect(dsn)
        try:
            async with app.router.lifespan_context(app):
                await run_phases(app, conn, topics)
        finally:
            await conn.close()
            os.unlink(policy.name)


async def run_phases(app, conn: asyncpg.Connection, topics: Topics) -> None:
    at = datetime.now(UTC)
    events = [resolved(i, at) for i in range(CASES)]
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5)
    await producer.start()
    started = time.monotonic()
    for event in events:
        await producer.send(topics.handling, event.to_bytes(), key=event.key)
    await producer.flush()
    await producer.stop()
    await wait_until(conn, "SELECT count(*) FROM callbacks", CASES, 300)
    took = time.monotonic() - started
    print(
        f"  case.resolved -> call-back scheduled (timers armed, followup.scheduled in the "
        f"outbox): {CASES} in {took:.1f} s = {CASES / took:.0f} /s",
        flush=True,
    )
    published = await wait_until(
        conn, "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL", CASES, 120
    )
    print(f"  ... all {CASES} followup.scheduled published {published:.1f} s later", flush=True)

    # All of them fall due at the same instant, 2 s from now: the burst an agent team's
    # morning queue makes. Each fires through its own timer (state, followup.due, outbox).
    due = datetime.now(UTC) + timedelta(seconds=2)
    await conn.execute("UPDATE callbacks SET due_at = $1", due)
    await conn.execute(
        "UPDATE timers SET due_at = $1, payload = jsonb_build_object('due_at', $2::text) "
        "WHERE kind = 'callback.due'",
        due,
        due.isoformat(),
    )
    await wait_until(conn, "SELECT count(*) FROM callbacks WHERE state = 'due'", CASES, 120)
    rows = await conn.fetch("SELECT EXTRACT(EPOCH FROM updated_at - due_at) AS late FROM callbacks")
    late = [float(r["late"]) * 1000 for r in rows]
    drained = max(late) / 1000
    print(
        f"  {CASES} call-backs due at once -> followup.due: lateness p50 {pct(late, 50):.0f} ms,"
        f" p95 {pct(late, 95):.0f} ms, p99 {pct(late, 99):.0f} ms (goal < 1000 ms), "
        f"max {max(late):.0f} ms "
        f"({CASES / max(drained, 1e-3):.0f} call-backs/s)",
        flush=True,
    )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://followup") as http:
        first, deep, cursor = [], [], None
        for _ in range(100):
            t0 = time.perf_counter()
            page = await http.get("/callbacks", params={"state": "due", "limit": 50}, headers=AGENT)
            first.append((time.perf_counter() - t0) * 1000)
            assert page.status_code == 200
        pages = 0
        while True:
            t0 = time.perf_counter()
            params = {"state": "due", "limit": 50} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/callbacks", params=params, headers=AGENT)).json()
            deep.append((time.perf_counter() - t0) * 1000)
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        print(
            f"  GET /callbacks?state=due&limit=50 ({CASES} due): first page p50 "
            f"{statistics.median(first):.1f} ms, p95 {pct(first, 95):.1f} ms; all {pages} pages "
            f"by cursor p50 {statistics.median(deep):.1f} ms, p95 {pct(deep, 95):.1f} ms",
            flush=True,
        )
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM callbacks LIMIT 200")]
        timings = []
        for callback_id in ids:
            t0 = time.perf_counter()
            answer = await http.post(
                f"/callbacks/{callback_id}/outcome",
                json={"reached": True, "satisfied": True, "customer_words": "很好"},
                headers=AGENT,
            )
            timings.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, answer.text
        print(
            f"  POST outcome satisfied (state, attempt, followup.completed + survey.requested): "
            f"{len(ids)} sequential, p50 {statistics.median(timings):.1f} ms, "
            f"p95 {pct(timings, 95):.1f} ms",
            flush=True,
        )


def run() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    run()
