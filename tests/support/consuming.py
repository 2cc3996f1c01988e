"""Running a service's consumer runner in the test's own process until its inbox holds a
number of events (the runner wired by the test, on the service's runtime); a backlog on topics
of the test's own for it."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from shared.messaging.consumer import ConsumerRunner
from shared.runtime import Runtime


async def run_until_processed(
    runtime: Runtime,
    runner: ConsumerRunner,
    processed: int,
    timeout: float = 120,
    parked_allowed: bool = True,
    settle: float = 0.0,
) -> None:
    """Run ``runner`` until the inbox holds ``processed`` events (``parked_allowed`` False:
    fail at once should one be parked), ``settle`` seconds more, then stop it and close the
    runtime."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with runtime.engine.connect() as conn:
                n = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
                parked = await conn.scalar(sa.text("SELECT count(*) FROM parked_events"))
            assert parked_allowed or parked == 0, f"{parked} events parked"
            if n >= processed:
                break
            assert asyncio.get_running_loop().time() < deadline, f"only {n} events processed"
            await asyncio.sleep(0.2)
        await asyncio.sleep(settle)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await runtime.kafka.close()
        await runtime.engine.dispose()


async def handling_backlog(servers, topics: Topics, name: str, events: list[Envelope]) -> Topics:
    """Topics of the test's own with ``events`` on their handling topic, keyed by complaint:
    two runners of different groups read each complaint's events in the same order (the
    batch-path tests: per event into one database, in batches into another)."""
    own = Topics(f"{topics.prefix}{name}-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, own.all(), partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap)
    await producer.start()
    try:
        for item in events:
            await producer.send_and_wait(own.handling, item.to_bytes(), key=item.key)
    finally:
        await producer.stop()
    return own


def service_settings(servers, own: Topics) -> dict[str, object]:
    """What a batch-path test's two settings objects share, but their database and group."""
    return {
        "kafka_bootstrap_servers": servers.kafka_bootstrap,
        "kafka_topic_prefix": own.prefix,
        "db_pool_size": 2,
    }
