"""The idempotent consumer runner.

For each record: parse the envelope, then in one database transaction record its id in the
inbox and apply the handler. A batch of records from one partition shares one transaction;
should any of them fail, the batch is rolled back and replayed record by record. Offsets are
committed to Kafka only after the transaction, so a crash redelivers, and the inbox makes the
redelivery a no-op. A handler that keeps failing is retried with backoff a bounded number of
times, then the record goes to ``<topic>.dlq`` with the error in its headers. An unreachable
database is not the record's fault: the runner waits for it instead of dead-lettering."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import is_unavailable
from shared.events.envelope import Envelope
from shared.events.topics import dead_letter
from shared.logs import describe_error
from shared.messaging import inbox
from shared.messaging.kafka import KafkaLink

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

EVENTS = Counter(
    "consumer_events_total", "Events consumed, by outcome", ["topic", "type", "outcome"]
)


class PoisonEvent(Exception):
    """A record that can never be processed (unparseable, invalid): dead-letter at once."""


@dataclass
class ConsumerRunner:
    topics: list[str]
    group_id: str
    handlers: Mapping[str, Handler]
    sessions: async_sessionmaker[AsyncSession]
    kafka: KafkaLink
    max_retries: int = 3
    retry_backoff: float = 0.2
    batch_size: int = 100
    inbox_retention: timedelta = timedelta(days=30)
    _pruned_at: float = field(default=float("-inf"), init=False)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await self._start(stop)
        if consumer is None:
            return
        try:
            while not stop.is_set():
                try:
                    batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                except KafkaError as exc:
                    log.warning("consumer: fetch failed", extra={"error": str(exc)})
                    await asyncio.sleep(1)
                    continue
                # Partitions are independent (a key lives on one), so they are processed
                # concurrently, each in order; offsets are committed once all are done.
                partitions = list(batches)
                done = await asyncio.gather(
                    *(self._process_partition(batches[tp], stop) for tp in partitions)
                )
                offsets = {tp: last + 1 for tp, last in zip(partitions, done, strict=True)
                           if last is not None}  # fmt: skip
                if offsets:
                    await self._commit(consumer, offsets)
                await self._prune_inbox()
        finally:
            await consumer.stop()

    async def _prune_inbox(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._pruned_at >= 3600:
            self._pruned_at = now
            try:
                await self.prune_inbox()
            except Exception as exc:  # housekeeping: the next hour tries again
                log.warning("consumer: inbox pruning failed", extra={"error": describe_error(exc)})

    async def prune_inbox(self) -> int:
        """Forget processed ids older than the retention (a redelivery comes within minutes
        or hours, not months); returns how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                sa.text("DELETE FROM inbox WHERE processed_at < now() - CAST(:keep AS interval)"),
                {"keep": self.inbox_retention},
            )
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def _start(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        delay = 0.5
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self.kafka.bootstrap_servers,
                group_id=self.group_id,
                client_id=f"{self.kafka.client_id}-consumer",
                enable_auto_commit=False,
                # A new group reads from the beginning: nothing published before it is missed.
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                return consumer
            except KafkaError as exc:
                await consumer.stop()
                log.warning("consumer: Kafka unavailable", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        return None

    async def _process_partition(
        self, records: list[ConsumerRecord], stop: asyncio.Event
    ) -> int | None:
        """Process records in order; returns the offset of the last one finished."""
        if len(records) > 1 and await self._apply_together(records):
            return records[-1].offset
        done = None
        for record in records:
            if stop.is_set():
                break
            await self.process(record, stop)
            done = record.offset
        return done

    async def _apply_together(self, records: list[ConsumerRecord]) -> bool:
        """The whole batch in one transaction: one commit (one WAL flush) instead of one per
        event. Any failure rolls the batch back, and ``process`` then replays it event by
        event, with the retries and the dead-letter path: the outcome is the same."""
        try:
            events = [(record, _parse(record)) for record in records]
        except PoisonEvent:
            return False
        outcomes: list[tuple[ConsumerRecord, str, str]] = []
        try:
            async with self.sessions.begin() as session:
                for record, event in events:
                    handler = self.handlers.get(event.type)
                    if handler is None:
                        outcome = "ignored"
                    elif not await inbox.claim(session, event, record.topic):
                        outcome = "duplicate"
                    else:
                        await handler(session, event)
                        outcome = "processed"
                    outcomes.append((record, event.type, outcome))
        except Exception as exc:
            log.info(
                "consumer: batch failed, replaying it event by event",
                extra={"error": describe_error(exc)},
            )
            return False
        for record, event_type, outcome in outcomes:
            self._count(record, event_type, outcome)
        return True

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The partition moved to another member; it will see these records again and
            # the inbox will skip them.
            log.warning("consumer: commit failed", extra={"error": str(exc)})

    async def process(self, record: ConsumerRecord, stop: asyncio.Event | None = None) -> str:
        """Apply one record; returns the outcome (processed, duplicate, ignored, dead_lettered)."""
        try:
            event = _parse(record)
        except PoisonEvent as exc:
            await self._dead_letter(record, exc, attempts=1)
            return self._count(record, "?", "dead_lettered")
        handler = self.handlers.get(event.type)
        if handler is None:
            return self._count(record, event.type, "ignored")
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.sessions.begin() as session:
                    if not await inbox.claim(session, event, record.topic):
                        return self._count(record, event.type, "duplicate")
                    await handler(session, event)
                return self._count(record, event.type, "processed")
            except Exception as exc:
                if is_unavailable(exc):
                    attempt -= 1  # an outage is not the event's fault: wait, do not count
                    log.warning("consumer: database unavailable", extra={"error": str(exc)})
                    await asyncio.sleep(1)
                    if stop is not None and stop.is_set():
                        raise
                    continue
                poison = isinstance(exc, PoisonEvent | ValidationError)
                if poison or attempt > self.max_retries:
                    log.error(
                        "consumer: dead-lettering event",
                        extra={
                            "event_id": str(event.id),
                            "type": event.type,
                            "error": describe_error(exc),
                        },
                    )
                    await self._dead_letter(record, exc, attempts=attempt)
                    return self._count(record, event.type, "dead_lettered")
                await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int) -> None:
        headers = [
            *(record.headers or []),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self.group_id.encode()),
            ("dlq-error-type", type(exc).__name__.encode()),
            ("dlq-error-message", str(exc)[:2000].encode()),
            ("dlq-error-trace", "".join(traceback.format_exception(exc))[-4000:].encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        delay = 0.5
        while True:
            try:
                producer = await self.kafka.producer()
                await producer.send_and_wait(
                    dead_letter(record.topic), record.value, key=record.key, headers=headers
                )
                return
            except KafkaError as exc2:
                # Never move past a record before it is parked somewhere.
                log.warning("consumer: dead-letter publish failed", extra={"error": str(exc2)})
                await self.kafka.reset()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    @staticmethod
    def _count(record: ConsumerRecord, event_type: str, outcome: str) -> str:
        EVENTS.labels(record.topic, event_type, outcome).inc()
        return outcome


def _parse(record: ConsumerRecord) -> Envelope:
    if record.value is None:
        raise PoisonEvent("record has no value")
    try:
        return Envelope.from_bytes(record.value)
    except ValidationError as exc:
        raise PoisonEvent(f"not a valid CloudEvent: {exc}") from exc
