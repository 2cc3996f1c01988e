"""Transactional outbox. ``add`` writes events in the caller's transaction, so they exist if
and only if the state change that caused them committed. ``OutboxRelay`` publishes them.

Ordering with several relays: every row carries a shard derived from its key. A relay locks
the shards no other relay holds (``FOR UPDATE SKIP LOCKED``) and publishes only their rows,
oldest first, so all events of one key go through one relay at a time, in order. A relay that
dies between publishing and committing leaves its rows unsent: they are published again
(at-least-once), and consumers drop the duplicate by event id."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.db import is_unavailable
from shared.events.envelope import CONTENT_TYPE, Envelope
from shared.messaging.kafka import KafkaLink
from shared.notifications import Notifications, sleep_unless_stopped

log = logging.getLogger(__name__)

SHARDS = 16  # fixed by the outbox_shards rows of create_messaging_tables_v1

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox", ["topic"])
PENDING = Gauge("outbox_pending", "Events in the outbox not yet published")
FAILURES = Counter("outbox_publish_failures_total", "Failed outbox publishing rounds")

_INSERT = sa.text(
    "INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "VALUES (:event_id, :topic, :key, :shard, :event_type, CAST(:payload AS json))"
)


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARDS


async def add(
    session: AsyncSession | AsyncConnection, topic: str, events: Iterable[Envelope]
) -> None:
    rows = [
        {
            "event_id": event.id,
            "topic": topic,
            "key": event.subject,
            "shard": shard_of(event.subject),
            "event_type": event.type,
            "payload": event.to_bytes().decode(),
        }
        for event in events
    ]
    if rows:
        await session.execute(_INSERT, rows)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        kafka: KafkaLink,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        retention: timedelta = timedelta(days=1),
    ) -> None:
        self.engine = engine
        self.kafka = kafka
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self._notes = Notifications(engine, "outbox")

    async def publish_once(self) -> int:
        """Publish one batch from the shards this relay can lock; returns how many."""
        async with self.engine.begin() as conn:
            shards = (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT shard FROM outbox_shards ORDER BY shard FOR UPDATE SKIP LOCKED"
                        )
                    )
                )
                .scalars()
                .all()
            )
            if not shards:
                return 0
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT id, topic, key, payload::text AS payload FROM outbox "
                        "WHERE sent_at IS NULL AND shard = ANY(:shards) ORDER BY id LIMIT :n"
                    ),
                    {"shards": list(shards), "n": self.batch_size},
                )
            ).all()
            if not rows:
                return 0
            producer = await self.kafka.producer()
            headers = [("content-type", CONTENT_TYPE.encode())]
            # send() in id order queues records per partition in that order; the idempotent
            # producer keeps it through retries. Then wait for every acknowledgement.
            futures = [
                await producer.send(
                    r.topic, r.payload.encode(), key=r.key.encode(), headers=headers
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                sa.text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)"),
                {"ids": [r.id for r in rows]},
            )
        for r in rows:
            PUBLISHED.labels(r.topic).inc()
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        housekeeping = asyncio.get_running_loop().time()
        while not stop.is_set():
            try:
                await self._notes.listen()
                self._notes.clear()
                published = await self.publish_once()
                backoff = 0.2
                now = asyncio.get_running_loop().time()
                if now - housekeeping > 30:
                    housekeeping = now
                    await self.housekeeping()
                if published >= self.batch_size:
                    continue  # more may be waiting
                await self._notes.wait(stop, self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                FAILURES.inc()
                if isinstance(exc, KafkaError | TimeoutError):
                    log.warning(
                        "outbox relay: Kafka unavailable, retrying", extra={"error": str(exc)}
                    )
                    await self.kafka.reset()
                elif is_unavailable(exc):
                    log.warning("outbox relay: database unavailable", extra={"error": str(exc)})
                    await self._notes.close()
                else:
                    log.exception("outbox relay failed")
                await sleep_unless_stopped(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        await self._notes.close()

    async def housekeeping(self) -> None:
        """Forget events published longer ago than the retention; refresh the pending gauge."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text("DELETE FROM outbox WHERE sent_at < now() - CAST(:keep AS interval)"),
                {"keep": self.retention},
            )
            pending = await conn.scalar(
                sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            )
        PENDING.set(pending or 0)
