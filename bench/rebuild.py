"""The satisfaction store rebuilt from the topics (``python -m services.satisfaction rebuild``
does the same, with a progress bar) over BENCH_REBUILD_EVENTS events (default 1,000,000):
complaints each received, opened, acknowledged, resolved and answered (five events each),
over 90 days, produced to fresh topics with a fast producer (event templates built once with
the real event models, then filled in and serialised with orjson); then the rebuild on a
fresh database, timed, with events/s; the rollups are checked against what was produced
(every answer counted once)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from bench._db import KAFKA, async_url, scratch_database
from bench.consumers import acknowledged, opened, received, resolved, surveyed
from services.satisfaction.rebuild import rebuild
from services.satisfaction.settings import SatisfactionSettings
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.topics import delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_REBUILD_EVENTS", "1000000"))
PARTITIONS = int(os.environ.get("BENCH_REBUILD_PARTITIONS", "6"))
STEPS = [
    ("intake", received, "received_at"),
    ("handling", opened, "opened_at"),
    ("handling", acknowledged, "at"),
    ("handling", resolved, "at"),
    ("satisfaction", surveyed, "recorded_at"),
]


def templates() -> list[list[dict]]:
    """Per step, a few variants (tiers, channels, levels) as plain dicts from the models."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [[make(i, uuid.UUID(int=0), at).to_json() for i in range(30)] for _, make, _ in STEPS]


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.started, self.shown = total, 0, time.monotonic(), 0.0

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown >= 10 or self.done >= self.total:
            self.shown = now
            rate = self.done / max(now - self.started, 1e-6)
            eta = (self.total - self.done) / max(rate, 1e-6)
            print(f"    {self.done:>9,}/{self.total:,} events, {rate:,.0f}/s, ETA {eta:.0f} s",
                  flush=True)  # fmt: skip


async def produce(topics: Topics) -> tuple[int, int, float]:
    """Returns events produced, answers among them, seconds."""
    forms = templates()
    complaints = EVENTS // len(STEPS)
    first = datetime.now(UTC) - timedelta(days=90)
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, linger_ms=50, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    started = time.monotonic()
    sent = 0
    try:
        pending = []
        for n in range(complaints):
            cid = str(uuid.uuid4())
            at = first + timedelta(seconds=n * 90 * 86400 / complaints)
            key = cid.encode()
            for step, (topic, _, field) in enumerate(STEPS):
                event = dict(forms[step][n % 30])
                data = dict(event["data"])
                data["complaint_id"] = cid
                data[field] = (at + timedelta(hours=step)).isoformat()
                event |= {"id": str(uuid.uuid4()), "subject": cid, "data": data}
                pending.append(
                    await producer.send(getattr(topics, topic), orjson.dumps(event), key=key)
                )
                sent += 1
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending = []
                if sent % 200000 < len(STEPS):
                    print(f"    produced {sent:,}", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, complaints, time.monotonic() - started


async def bench() -> None:
    topics = Topics(f"bench-rebuild-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=PARTITIONS)
    try:
        await run_on(topics)
    finally:
        await delete_topics_with_prefix(KAFKA, topics.prefix)


async def run_on(topics: Topics) -> None:
    sent, answers, took = await produce(topics)
    print(f"  produced {sent:,} events ({answers:,} complaints) in {took:.0f} s "
          f"({sent / took:,.0f}/s)", flush=True)  # fmt: skip
    async with scratch_database("satisfaction") as dsn:
        settings = SatisfactionSettings(
            database_url=async_url(dsn), kafka_bootstrap_servers=KAFKA,
            kafka_topic_prefix=topics.prefix, log_level="WARNING",
        )  # fmt: skip
        started = time.monotonic()
        applied = await rebuild(settings, Progress(sent))
        seconds = time.monotonic() - started
        conn = await asyncpg.connect(dsn)
        try:
            counted = await conn.fetchval(
                "SELECT sum(l1 + l2 + l3 + l4 + l5 + l6) FROM rollup_daily WHERE dimension = 'all'"
            )
        finally:
            await conn.close()
    print(
        f"  rebuild: {applied:,} events in {seconds:.0f} s = {applied / seconds:,.0f} events/s "
        f"(goal: 1,000,000 in under 300 s); answers in the rollups {int(counted or 0):,} "
        f"of {answers:,}",
        flush=True,
    )
    if sent < 1_000_000:
        print(f"  extrapolated to 1,000,000 events: {1_000_000 / (applied / seconds):.0f} s")


def run() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    run()
