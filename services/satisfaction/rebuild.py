"""Rebuild the store from the topics: empty the facts, the rollups and the inbox, then read
intake, handling, follow-up, notify and satisfaction topics from their beginning up to their
end as of now, applying every event with the same changes as the live consumer, batched per
complaint and per transaction; then sum the rollups again from the store. The folds are
order-independent, so the figures equal those of the live store.

Answers and surveys are records, not derived: the topics keep a week, the store keeps them
for good. A rebuild keeps them (events read again find them known) and counts them again.

    python -m services.satisfaction rebuild     # with the service stopped
    python -m services.satisfaction rederive    # the rollups only, from the store

Alert state is kept: alerts already raised are not raised again."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction import erasure, retention_calls, usecases
from services.satisfaction.domain.contribution import Contribution, merge
from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store import rollups
from services.satisfaction.store.tables import DERIVED
from shared.db import create_engine, session_factory
from shared.events.envelope import Envelope
from shared.events.topics import Topics

log = logging.getLogger(__name__)


async def rebuild(settings: SatisfactionSettings) -> int:
    """Returns how many events were applied."""
    engine = create_engine(settings.database_url.get_secret_value(), 4)
    sessions = session_factory(engine)
    ladder = settings.escalation_ladder
    t = Topics(settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    applied = 0
    erasures = []  # applied after everything: an answer may be read after its erasure
    try:
        async with engine.begin() as conn:
            names = ", ".join([table.name for table in DERIVED] + ["inbox"])
            await conn.execute(sa.text(f"TRUNCATE {names}"))
        await consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in usecases.source_topics(t)
            for p in sorted(await _partitions(settings.kafka_bootstrap_servers, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if partitions:
            await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=1000)
            events = [
                (record.topic, record.value)
                for tp, records in batches.items()
                for record in records
                if record.offset < ends[tp]
            ]
            async with sessions.begin() as session:
                applied += await apply_batch(session, events, ladder, roll_up=False)
            erasures += erasure.requests_in(events)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        async with sessions.begin() as session:
            await erasure.apply_all(session, erasures)
            await usecases.rederive_rollups(session)
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


async def apply_batch(
    session: AsyncSession,
    records: list[tuple[str, bytes | None]],
    ladder: list[str],
    roll_up: bool = True,
) -> int:
    """Apply a batch in one transaction: inbox claims in one statement, each complaint's
    events folded together (the folds are order-independent), the rollup increments of the
    whole batch summed and written once (unless the caller sums the rollups afterwards).
    Returns how many events were applied."""
    events: dict[uuid.UUID, tuple[str, Envelope]] = {}
    for topic, value in records:
        try:
            event = Envelope.from_bytes(value or b"")
        except ValidationError:
            continue
        if event.type in usecases.HANDLED or event.type in retention_calls.EVENTS:
            events.setdefault(event.id, (topic, event))
    if not events:
        return 0
    claimed = set(
        (
            await session.execute(
                sa.text(
                    "INSERT INTO inbox (event_id, topic, event_type) "
                    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
                    "CAST(:types AS text[])) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
                ),
                {
                    "ids": [str(i) for i in events],
                    "topics": [t for t, _ in events.values()],
                    "types": [e.type for _, e in events.values()],
                },
            )
        ).scalars()
    )
    by_complaint: dict[uuid.UUID, list[Envelope]] = defaultdict(list)
    applied = 0
    for event_id, (_, event) in events.items():
        if event_id in claimed and event.type in retention_calls.EVENTS:
            # Call-backs, not complaints (a retention call has none): no facts to lock.
            try:
                async with session.begin_nested():
                    await retention_calls.apply(session, event)
                applied += 1
            except Exception:
                log.exception("rebuild: event skipped", extra={"event_id": str(event_id)})
        elif event_id in claimed:
            try:
                by_complaint[usecases.complaint_of(event)].append(event)
            except (KeyError, ValueError):
                log.warning("rebuild: event without a complaint id", extra={"id": str(event_id)})
    changes: list[Contribution] = []
    for complaint_id, group in sorted(by_complaint.items()):
        try:
            async with session.begin_nested():
                changes.append(
                    await usecases.change_complaint(
                        session,
                        complaint_id,
                        [usecases.change_for(session, e, ladder) for e in group],
                        roll_up,
                    )
                )
            applied += len(group)
        except Exception:
            # One bad event must not cost its neighbours: retry them one by one; the live
            # consumer would have dead-lettered the bad one, so it is skipped here.
            for event in group:
                try:
                    async with session.begin_nested():
                        changes.append(
                            await usecases.change_complaint(
                                session,
                                complaint_id,
                                [usecases.change_for(session, event, ladder)],
                                roll_up,
                            )
                        )
                    applied += 1
                except Exception:
                    log.exception("rebuild: event skipped", extra={"event_id": str(event.id)})
    await rollups.apply(session, merge(changes))
    return applied


def main(settings: SatisfactionSettings) -> None:
    """``python -m services.satisfaction rebuild`` (the entry point has run the migrations)."""
    started = time.monotonic()
    applied = asyncio.run(rebuild(settings))
    log.info(
        "store rebuilt from the topics",
        extra={"events": applied, "seconds": round(time.monotonic() - started, 1)},
    )
    print(f"rebuilt: {applied} events applied in {time.monotonic() - started:.1f}s")


async def rederive(settings: SatisfactionSettings) -> int:
    engine = create_engine(settings.database_url.get_secret_value(), 1)
    try:
        async with session_factory(engine).begin() as session:
            return await usecases.rederive_rollups(session)
    finally:
        await engine.dispose()


def rederive_main(settings: SatisfactionSettings) -> None:
    """``python -m services.satisfaction rederive``: the rollups summed again from the store
    (after an upgrade that counts something new; safe while the service runs)."""
    started = time.monotonic()
    complaints = asyncio.run(rederive(settings))
    print(f"rederived: {complaints} complaints summed in {time.monotonic() - started:.1f}s")
