"""Outbox relay throughput: a backlog of events (several per key) drained to Kafka by one
relay, then by two relays sharing the shards (in one process: the figure shows that the
work is shared, not two cores' worth)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import sqlalchemy as sa

from bench._db import KAFKA, async_url, scratch_database
from shared.db import create_engine
from shared.events.envelope import Envelope
from shared.messaging import outbox
from shared.messaging.admin import ensure_topics
from shared.messaging.kafka import KafkaLink
from shared.messaging.outbox import OutboxRelay

EVENTS = int(os.environ.get("BENCH_OUTBOX_EVENTS", "20000"))
PER_KEY = 5


async def drain(dsn: str, topic: str, relays: int) -> tuple[float, list[int]]:
    engine = create_engine(async_url(dsn), pool_size=4)
    keys = [str(uuid.uuid4()) for _ in range(EVENTS // PER_KEY)]
    async with engine.begin() as conn:
        for seq in range(PER_KEY):
            events = [
                Envelope(source="/bench", type="bench.probe", subject=k, data={"seq": seq})
                for k in keys
            ]
            await outbox.add(conn, topic, events)
    runners = [
        OutboxRelay(engine, KafkaLink(KAFKA, f"bench-{i}"), batch_size=500, relay_id=f"r{i}")
        for i in range(relays)
    ]
    for r in runners:  # all of them known before the clock starts: each takes its part
        await r.heartbeat()
    for r in runners:
        await r.heartbeat()
    stop = asyncio.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    while True:
        async with engine.connect() as conn:
            left = await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        if not left:
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    stop.set()
    await asyncio.gather(*tasks)
    for r in runners:
        await r.kafka.close()
    await engine.dispose()
    return elapsed, [r.published for r in runners]


async def main() -> None:
    topic = f"bench-outbox-{uuid.uuid4().hex[:6]}"
    await ensure_topics(KAFKA, [topic], partitions=6)
    for relays in (1, 2):
        async with scratch_database("intake") as dsn:
            elapsed, shares = await drain(dsn, topic, relays)
        print(
            f"outbox relay x{relays}: {EVENTS} events ({PER_KEY} per key) drained in "
            f"{elapsed:.2f} s = {EVENTS / elapsed:,.0f} events/s; published per relay {shares}",
            flush=True,
        )


def run() -> None:
    asyncio.run(main())
