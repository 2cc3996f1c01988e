"""Rebuild the store from the topics: empty the derived tables and the inbox, then read
intake, handling, follow-up and satisfaction topics from their beginning up to their end as
of now, applying every event with the same handlers as the live consumer. The folds are
order-independent and increments exact, so the figures equal those of the live store.

    python -m services.satisfaction rebuild     # with the service stopped

Alert state is kept: alerts already raised are not raised again."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from services.satisfaction import usecases
from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store.tables import DERIVED
from shared.db import create_engine, session_factory
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.logs import configure_logging
from shared.messaging import inbox
from shared.migrations import upgrade

log = logging.getLogger(__name__)


async def rebuild(settings: SatisfactionSettings) -> int:
    """Returns how many events were applied."""
    engine = create_engine(settings.database_url, 4)
    sessions = session_factory(engine)
    handlers = usecases.handlers(settings.escalation_ladder)
    t = Topics(settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    applied = 0
    try:
        async with engine.begin() as conn:
            names = ", ".join([table.name for table in DERIVED] + ["inbox"])
            await conn.execute(sa.text(f"TRUNCATE {names}"))
        await consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in (t.intake, t.handling, t.followup, t.satisfaction)
            for p in sorted(await _partitions(settings.kafka_bootstrap_servers, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if partitions:
            await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
            async with sessions.begin() as session:
                for tp, records in batches.items():
                    for record in records:
                        if record.offset >= ends[tp]:
                            continue
                        applied += await _apply(session, handlers, record.topic, record.value)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
        await engine.dispose()
    return applied


async def _partitions(bootstrap: str, topic: str) -> set[int]:
    # The producer's metadata lookup is the public way to learn a topic's partitions.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        return await producer.partitions_for(topic)
    finally:
        await producer.stop()


async def _apply(session, handlers, topic: str, value: bytes | None) -> int:  # type: ignore[no-untyped-def]
    try:
        event = Envelope.from_bytes(value or b"")
    except ValidationError:
        return 0
    handler = handlers.get(event.type)
    if handler is None:
        return 0
    try:
        async with session.begin_nested():
            if not await inbox.claim(session, event, topic):
                return 0
            await handler(session, event)
    except Exception:
        # The live consumer would have dead-lettered it: skip it here too.
        log.exception(
            "rebuild: event skipped", extra={"event_id": str(event.id), "type": event.type}
        )
        return 0
    return 1


def main(migrations: Path) -> None:
    settings = SatisfactionSettings()
    configure_logging(settings.log_level)
    upgrade(migrations, settings.database_url)
    started = time.monotonic()
    applied = asyncio.run(rebuild(settings))
    log.info(
        "store rebuilt from the topics",
        extra={"events": applied, "seconds": round(time.monotonic() - started, 1)},
    )
    print(f"rebuilt: {applied} events applied in {time.monotonic() - started:.1f}s")
