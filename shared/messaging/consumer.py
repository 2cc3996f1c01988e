"""The idempotent consumer runner.

For each record: parse the envelope, then in one database transaction record its id in the
inbox and apply the handler. The records of one fetch (several partitions, each in order)
share one transaction; should any of them fail, the batch is rolled back and replayed
partition by partition, then record by record. Offsets are committed to Kafka only after the
transaction (at most every ``commit_interval_seconds``, and before a rebalance and at the
stop), so a crash redelivers, and the inbox makes the redelivery a no-op.

What a failure means is decided in one place (``shared.messaging.failures``): an unreachable
database is waited out and a deadlock is retried, neither counted against the event; a
malformed event is parked at once; anything else is retried with backoff a bounded number of
times, then parked. Parked events live in the service's own database (``parked_events``,
``shared.messaging.parked``) with their group, record coordinates, redacted error and exact
payload; later events of the same key are held behind them, in order, until an operator
redrives or discards the parked one (CLI ``parked``, ``/admin/parked``). A copy of each parked
record also goes to ``<topic>.dlq`` (headers: group, error type, redacted message), published
in the background: Kafka being down never keeps the consumer from stopping.

Set-based work per batch: the batch's event ids are claimed in the inbox with one statement
(duplicates skipped), and a service may register **batch handlers** beside its per-event
ones (``batch_handlers``: a handler taking the session and a list of envelopes of its type).
A batch handler must have the effect of the per-event handler applied to each event in turn:
the per-event one still serves the replay after a failed batch, the redrives and a batch of
one. Events whose types share a batch handler are gathered across the batch as long as no
earlier event of the same key is left behind (per-key order), and never across an event of
a type without one (which may concern other keys, an erasure for example)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.envelope import Envelope
from shared.events.topics import dead_letter
from shared.messaging import connectivity, inbox, parked
from shared.messaging.failures import (
    Failure,
    PoisonEvent,
    classify,
    error_type,
    redacted_message,
    redacted_trace,
)
from shared.messaging.kafka import KafkaLink

__all__ = ["BatchHandler", "BatchHooks", "ConsumerRunner", "Handler", "PoisonEvent"]

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
# Many events of one type, in order (per key), in the caller's transaction.
BatchHandler = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]
T = TypeVar("T")

EVENTS = Counter(
    "consumer_events_total", "Events consumed, by outcome", ["topic", "type", "outcome"]
)
RETRIES = Counter(
    "consumer_retries_total",
    "Handler attempts run again, by reason (conflict and unavailable are not counted against "
    "the event)",
    ["topic", "reason"],
)
PARKED = Gauge(
    "consumer_parked_events",
    "Open parked events (parked, held behind one, or waiting for a redrive)",
    ["group", "topic", "status"],
)


class BatchHooks(Protocol):
    """Work a service does around each transaction of its handlers (a batch of one
    partition, one event, or one redriven event): for example take its row locks in one
    order before the handlers run, and write what they gathered after, in key order."""

    async def begin(self, session: AsyncSession, events: list[Envelope]) -> None: ...

    async def end(self, session: AsyncSession) -> None: ...


class _Stopped(Exception):
    """The runner was asked to stop while waiting on Kafka."""


@dataclass
class ConsumerRunner:
    topics: list[str]
    group_id: str
    handlers: Mapping[str, Handler]
    sessions: async_sessionmaker[AsyncSession]
    kafka: KafkaLink
    max_retries: int = 3
    retry_backoff: float = 0.2
    batch_size: int = 500
    inbox_retention: timedelta = timedelta(days=30)
    hooks: BatchHooks | None = None
    # Optional set-based handlers by event type; each type also needs its per-event handler.
    batch_handlers: Mapping[str, BatchHandler] = field(default_factory=dict)
    # How often redrives are looked for, parked copies published and the gauge refreshed.
    housekeeping_seconds: float = 2.0
    # The broker answers a fetch once this many bytes wait for it, or after the wait: 1 (at
    # once) on a customer's path; more gathers larger batches at moderate rates, so a
    # consumer off that path pays its per-batch statements once for many events.
    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = 500
    # Offsets go to Kafka at most this often (and when partitions are revoked, and at the
    # stop): a crash or a move redelivers what was not committed, which the inbox already
    # makes a no-op, so a commit per batch would only cost a broker round trip per batch.
    commit_interval_seconds: float = 0.5
    _pruned_at: float = field(default=float("-inf"), init=False)
    _housekept_at: float = field(default=float("-inf"), init=False)
    _parked_new: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _uncommitted: dict[TopicPartition, int] = field(default_factory=dict, init=False)
    _committed_at: float = field(default=float("-inf"), init=False)
    _gauge_labels: set[tuple[str, str]] = field(default_factory=set, init=False)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await self._start(stop)
        if consumer is None:
            return
        # Dead-letter copies are published beside the loop: a slow or missing dead-letter
        # topic never holds up consumption (the parked row is what counts).
        copies = asyncio.create_task(self._dead_letter_loop(stop))
        try:
            while not stop.is_set():
                try:
                    batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                except KafkaError as exc:
                    log.warning("consumer: fetch failed", extra={"error": type(exc).__name__})
                    await asyncio.sleep(1)
                    continue
                if batches:
                    connectivity.restored()
                # A fetch's partitions in one transaction (each partition's records in
                # order): at moderate rates a fetch holds a few events of many partitions.
                # Should that fail, each partition on its own, concurrently (a key lives on
                # one), then event by event.
                partitions = list(batches)
                fetched = [record for tp in partitions for record in batches[tp]]
                if len(partitions) > 1 and await self._apply_together(fetched):
                    done: list[int | None] = [batches[tp][-1].offset for tp in partitions]
                else:
                    done = await asyncio.gather(
                        *(self._process_partition(batches[tp], stop) for tp in partitions)
                    )
                for tp, last in zip(partitions, done, strict=True):
                    if last is not None:
                        self._uncommitted[tp] = last + 1
                now = asyncio.get_running_loop().time()
                if self._uncommitted and now - self._committed_at >= self.commit_interval_seconds:
                    await self._commit(consumer)
                await self._housekeeping(stop, consumer)
        finally:
            copies.cancel()
            await asyncio.gather(copies, return_exceptions=True)
            await self._commit(consumer)
            await consumer.stop()

    # ---- housekeeping: redrives, dead-letter copies, the gauge, the inbox -------------------

    async def _housekeeping(self, stop: asyncio.Event, consumer: AIOKafkaConsumer) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._housekept_at >= self.housekeeping_seconds:
            self._housekept_at = now
            for step in (self.redrive, self.refresh_gauge):
                if stop.is_set():
                    return
                try:
                    await step(stop)
                except Exception as exc:  # the next round tries again
                    log.warning(
                        "consumer: housekeeping step failed",
                        extra={"step": step.__name__, "error": type(exc).__name__},
                    )
            if connectivity.is_lost():
                await _probe(consumer)
        if now - self._pruned_at >= 3600:
            self._pruned_at = now
            try:
                await self.prune_inbox()
            except Exception as exc:  # housekeeping: the next hour tries again
                log.warning("consumer: inbox pruning failed", extra={"error": repr(exc)})

    async def prune_inbox(self) -> int:
        """Forget processed ids older than the retention (a redelivery comes within minutes
        or hours, not months); returns how many."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                sa.text("DELETE FROM inbox WHERE processed_at < now() - CAST(:keep AS interval)"),
                {"keep": self.inbox_retention},
            )
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def refresh_gauge(self, stop: asyncio.Event | None = None) -> None:
        async with self.sessions.begin() as session:
            found = await parked.counts(session, self.group_id)
        seen = set()
        for (group, topic, status), n in found.items():
            PARKED.labels(group, topic, status).set(n)
            seen.add((topic, status))
        for topic, status in self._gauge_labels - seen:
            PARKED.labels(self.group_id, topic, status).set(0)
        self._gauge_labels = seen | self._gauge_labels

    # ---- Kafka -------------------------------------------------------------------------------

    async def _start(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        delay = 0.5
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.kafka.bootstrap_servers,
                group_id=self.group_id,
                client_id=f"{self.kafka.client_id}-consumer",
                enable_auto_commit=False,
                # A new group reads from the beginning: nothing published before it is missed.
                auto_offset_reset="earliest",
                fetch_min_bytes=self.fetch_min_bytes,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                # How often aiokafka's fetch task wakes with nothing to do (200 ms by default):
                # a fetch's answer, a rebalance, a seek and a consumed batch wake it anyway.
                consumer_timeout_ms=1000,
            )
            consumer.subscribe(self.topics, listener=_CommitOnRevoke(self, consumer))
            try:
                await consumer.start()
                return consumer
            except KafkaError as exc:
                await consumer.stop()
                connectivity.lost(f"consumer start: {type(exc).__name__}")
                await _sleep(delay, stop)
                delay = min(delay * 2, 5)
        return None

    async def _commit(
        self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None
    ) -> None:
        """Commit the offsets processed so far (of ``only`` these partitions). Those of a
        partition this member no longer holds are dropped: its new owner commits them."""
        offsets = {tp: o for tp, o in self._uncommitted.items() if only is None or tp in only}
        for tp in offsets:
            del self._uncommitted[tp]
        held = consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in held}
        self._committed_at = asyncio.get_running_loop().time()
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The partition moved to another member; it will see these records again and
            # the inbox (or the parked table) will skip them.
            log.warning("consumer: commit failed", extra={"error": type(exc).__name__})

    # ---- processing --------------------------------------------------------------------------

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
        """The whole batch (each partition's records in order) in one transaction: one
        commit (one WAL flush) instead of one per event, the ids claimed in the inbox with
        one statement, batch handlers where there are. Any failure rolls the batch back, and
        ``process`` then replays it event by event, with the retries and the parking: the
        outcome is the same."""
        try:
            events = [(record, _parse(record)) for record in records]
        except PoisonEvent:
            return False
        if not any(event.type in self.handlers for _, event in events):
            for record, event in events:  # none for this service: no transaction either
                self._count(record, event.type, "ignored")
            return True
        outcomes: Tally[tuple[str, str, str]] = Tally()
        try:
            async with self.sessions.begin() as session:
                keys = {parked.decode_key(r.key) for r in records}
                held, known = await parked.known(
                    session, self.group_id, [k for k in keys if k is not None],
                    [(r.topic, r.partition, r.offset) for r in records],
                )  # fmt: skip
                todo: list[tuple[str | None, Envelope]] = []
                topics: list[str] = []
                ids: set[uuid.UUID] = set()
                for record, event in events:
                    key = parked.decode_key(record.key)
                    if event.type not in self.handlers:
                        outcomes[record.topic, event.type, "ignored"] += 1
                    elif (record.topic, record.partition, record.offset) in known or (
                        event.id in ids
                    ):
                        outcomes[record.topic, event.type, "duplicate"] += 1
                    elif key in held:
                        outcome = await self._apply(session, record, event, held, known)
                        outcomes[record.topic, event.type, outcome] += 1
                    else:
                        ids.add(event.id)
                        todo.append((key, event))
                        topics.append(record.topic)
                claimed = await inbox.claim_many(session, [e for _, e in todo], topics)
                for topic, (_, event) in zip(topics, todo, strict=True):
                    outcome = "processed" if event.id in claimed else "duplicate"
                    outcomes[topic, event.type, outcome] += 1
                todo = [(key, event) for key, event in todo if event.id in claimed]
                if todo:
                    if self.hooks is not None:
                        await self.hooks.begin(session, [e for _, e in todo])
                    await self._handle_all(session, todo)
                    if self.hooks is not None:
                        await self.hooks.end(session)
        except Exception as exc:
            log.info(
                "consumer: batch failed, replaying it event by event",
                extra={"error": type(exc).__name__},
            )
            return False
        for (topic, event_type, outcome), n in outcomes.items():
            if n:
                EVENTS.labels(topic, event_type, outcome).inc(n)
        return True

    async def _handle_all(
        self, session: AsyncSession, todo: list[tuple[str | None, Envelope]]
    ) -> None:
        """Run the handlers over the claimed events: per-key order kept, events of a type
        with a batch handler gathered into one call where that order allows."""
        for group in plan(todo, self.batch_handlers):
            batch = self.batch_handlers.get(group[0].type) if len(group) > 1 else None
            if batch is not None:
                await batch(session, group)
            else:
                for event in group:
                    await self.handlers[event.type](session, event)

    async def _apply(
        self,
        session: AsyncSession,
        record: ConsumerRecord,
        event: Envelope,
        held: set[str],
        known: set[parked.Offset],
    ) -> str:
        handler = self.handlers.get(event.type)
        if handler is None:
            return "ignored"
        if (record.topic, record.partition, record.offset) in known:
            return "duplicate"  # parked before: the table decides its fate
        if parked.decode_key(record.key) in held:
            if await inbox.seen(session, event.id):
                return "duplicate"
            await parked.park(
                session,
                self._parked_record(record, event),
                parked.Failure("KeyHeld", "held behind an earlier parked event of its key"),
                hold=True,
            )
            return "held"
        if not await inbox.claim(session, event, record.topic):
            return "duplicate"
        await handler(session, event)
        return "processed"

    async def process(self, record: ConsumerRecord, stop: asyncio.Event | None = None) -> str:
        """Apply one record; returns the outcome (processed, duplicate, ignored, held,
        parked)."""
        stop = stop or asyncio.Event()
        try:
            event = _parse(record)
        except PoisonEvent as exc:
            log.error(
                "consumer: parking a record that is not an event",
                extra={"topic": record.topic, "offset": record.offset, "error": str(exc)},
            )
            await self._park(record, None, exc, 1, stop)
            return self._count(record, "?", "parked")
        if event.type not in self.handlers:
            return self._count(record, event.type, "ignored")
        key = parked.decode_key(record.key)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.sessions.begin() as session:
                    coordinates = (record.topic, record.partition, record.offset)
                    held, known = await parked.known(
                        session, self.group_id, [key] if key is not None else [], [coordinates]
                    )
                    hooked = self.hooks is not None and not (coordinates in known or key in held)
                    if hooked:
                        await self.hooks.begin(session, [event])  # type: ignore[union-attr]
                    outcome = await self._apply(session, record, event, held, known)
                    if hooked:
                        await self.hooks.end(session)  # type: ignore[union-attr]
                return self._count(record, event.type, outcome)
            except Exception as exc:
                kind = classify(exc)
                if kind in (Failure.UNAVAILABLE, Failure.CONFLICT):
                    attempt -= 1  # not the event's fault: try again, do not count
                    RETRIES.labels(record.topic, kind.value).inc()
                    log.warning(
                        "consumer: database unavailable"
                        if kind is Failure.UNAVAILABLE
                        else "consumer: transaction conflict (deadlock/serialization), retrying",
                        extra={"event_id": str(event.id), "error": redacted_message(exc)},
                    )
                    pause = 1.0 if kind is Failure.UNAVAILABLE else 0.05 + random.random() * 0.2
                    if await _sleep(pause, stop):
                        raise
                    continue
                if kind is Failure.PERMANENT or attempt > self.max_retries:
                    log.error(
                        "consumer: parking event",
                        extra={
                            "event_id": str(event.id),
                            "type": event.type,
                            "error_type": error_type(exc),
                            "error": redacted_message(exc),
                            "attempts": attempt,
                        },
                    )
                    await self._park(record, event, exc, attempt, stop)
                    return self._count(record, event.type, "parked")
                RETRIES.labels(record.topic, "failed").inc()
                await _sleep(self.retry_backoff * 2 ** (attempt - 1), stop)

    def _parked_record(self, record: ConsumerRecord, event: Envelope | None) -> parked.Record:
        return parked.Record(
            group_id=self.group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=parked.decode_key(record.key),
            payload=record.value,
            event_id=event.id if event is not None else None,
            event_type=event.type if event is not None else None,
        )

    async def _park(
        self,
        record: ConsumerRecord,
        event: Envelope | None,
        exc: BaseException,
        attempts: int,
        stop: asyncio.Event,
    ) -> None:
        """Write the parked row; until it is written the record's offset is not committed."""
        failure = parked.Failure(
            error_type(exc), redacted_message(exc), redacted_trace(exc), attempts
        )
        while True:
            try:
                async with self.sessions.begin() as session:
                    await parked.park(session, self._parked_record(record, event), failure)
                self._parked_new.set()  # publish its dead-letter copy now
                return
            except Exception as exc2:
                if classify(exc2) not in (Failure.UNAVAILABLE, Failure.CONFLICT):
                    raise
                log.warning("consumer: cannot park yet", extra={"error": redacted_message(exc2)})
                if await _sleep(1, stop):
                    raise

    # ---- redrive -----------------------------------------------------------------------------

    async def redrive(self, stop: asyncio.Event | None = None) -> int:
        """Replay what an operator asked for (and the events held behind it, in order), and
        held events whose parked predecessor was discarded. Returns how many were applied."""
        stop = stop or asyncio.Event()
        async with self.sessions.begin() as session:
            heads = await parked.replay_heads(session, self.group_id)
        replayed = 0
        for head in heads:
            if stop.is_set():
                break
            replayed += await self._replay_run(head, stop)
        return replayed

    async def _replay_run(self, head_id: int, stop: asyncio.Event) -> int:
        """One key's open events in one transaction (other replicas skip it), each in a
        savepoint: the first that fails again is parked again, and the rest stay held."""
        replayed = 0
        async with self.sessions.begin() as session:
            for row in await parked.lock_run(session, head_id):
                if stop.is_set() or row.status == parked.Status.PARKED:
                    break
                if not await self._replay_one(session, row, stop):
                    break
                replayed += 1
        if replayed:
            log.info(
                "consumer: parked events replayed",
                extra={"group": self.group_id, "head_id": head_id, "events": replayed},
            )
        return replayed

    async def _replay_one(self, session: AsyncSession, row: parked.ParkedEvent, stop) -> bool:
        attempt = conflicts = 0
        while True:
            attempt += 1
            try:
                async with session.begin_nested():
                    outcome, event_type = await self._apply_parked(session, row)
                await parked.mark(session, row.id, parked.Status.REDRIVEN)
                EVENTS.labels(row.topic, event_type, f"redriven_{outcome}").inc()
                return True
            except Exception as exc:
                kind = classify(exc)
                if kind is Failure.UNAVAILABLE:
                    raise  # the transaction is gone; the next round starts over
                if kind is Failure.CONFLICT and conflicts < 20:
                    attempt -= 1
                    conflicts += 1
                    RETRIES.labels(row.topic, kind.value).inc()
                    await _sleep(0.05 + random.random() * 0.2, stop)
                    continue
                if kind is Failure.PERMANENT or attempt > self.max_retries or stop.is_set():
                    log.error(
                        "consumer: redriven event failed again, parked",
                        extra={"parked_id": row.id, "error_type": error_type(exc),
                               "error": redacted_message(exc)},
                    )  # fmt: skip
                    await parked.mark(
                        session,
                        row.id,
                        parked.Status.PARKED,
                        parked.Failure(
                            error_type(exc), redacted_message(exc), redacted_trace(exc), attempt
                        ),
                    )
                    return False
                await _sleep(self.retry_backoff * 2 ** (attempt - 1), stop)

    async def _apply_parked(
        self, session: AsyncSession, row: parked.ParkedEvent
    ) -> tuple[str, str]:
        event = _parse_value(row.payload)
        handler = self.handlers.get(event.type)
        if handler is None:
            return "ignored", event.type
        if not await inbox.claim(session, event, row.topic):
            return "duplicate", event.type
        if self.hooks is not None:
            await self.hooks.begin(session, [event])
        await handler(session, event)
        if self.hooks is not None:
            await self.hooks.end(session)
        return "processed", event.type

    # ---- the dead-letter copies --------------------------------------------------------------

    async def _dead_letter_loop(self, stop: asyncio.Event) -> None:
        """Publish copies as rows are parked (and every half minute, for rows a replica
        that stopped left without a copy); after a failure, back off (5 s doubling to 5 min)
        without waking for new parks."""
        backoff = 0.0
        while not stop.is_set():
            self._parked_new.clear()  # before reading: a park meanwhile wakes the next round
            try:
                failed = await self.publish_dead_letters(stop) is None
            except Exception as exc:  # the database: the next round tries again
                log.warning("consumer: dead-letter copies", extra={"error": type(exc).__name__})
                failed = True
            backoff = min(max(backoff * 2, 5.0), 300.0) if failed else 0.0
            waits = [asyncio.ensure_future(stop.wait())]
            if not failed:
                waits.append(asyncio.ensure_future(self._parked_new.wait()))
            await asyncio.wait(waits, timeout=backoff or 30.0, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()

    async def publish_dead_letters(self, stop: asyncio.Event | None = None) -> int | None:
        """Publish the copies of parked records not yet on ``<topic>.dlq``; returns how many,
        None when Kafka failed (or the stop came) before all were out. Gives up at once when
        asked to stop."""
        stop = stop or asyncio.Event()
        sent: list[int] = []
        async with self.sessions.begin() as session:
            rows = await parked.not_dead_lettered(session, self.group_id)
            if not rows:
                return 0
            try:
                producer = await _until(self.kafka.producer(), stop, 10)
                for row in rows:
                    if stop.is_set():
                        break
                    await _until(
                        producer.send_and_wait(
                            dead_letter(row.topic),
                            row.payload,
                            key=row.key.encode() if row.key is not None else None,
                            headers=dead_letter_headers(row),
                        ),
                        stop,
                        10,
                    )
                    sent.append(row.id)
            except (KafkaError, TimeoutError, _Stopped) as exc:
                log.warning(
                    "consumer: dead-letter copies not published yet",
                    extra={"error": type(exc).__name__, "pending": len(rows) - len(sent)},
                )
                await parked.mark_dead_lettered(session, sent)
                return None
            await parked.mark_dead_lettered(session, sent)
        return len(sent)

    @staticmethod
    def _count(record: ConsumerRecord, event_type: str, outcome: str) -> str:
        EVENTS.labels(record.topic, event_type, outcome).inc()
        return outcome


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Before a partition moves to another member, commit what was processed of it, so the
    new owner starts where this one stopped rather than replaying (harmless) duplicates."""

    def __init__(self, runner: ConsumerRunner, consumer: AIOKafkaConsumer) -> None:
        self.runner = runner
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.runner._commit(self.consumer, set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


def plan(
    todo: list[tuple[str | None, Envelope]], batched: Mapping[str, BatchHandler]
) -> list[list[Envelope]]:
    """Split a batch's events (with their keys, in offset order) into the groups to run in
    turn: an event whose type has no batch handler alone; otherwise it and every later event
    of a type with the same batch handler whose key has no earlier event still waiting, up
    to the next event without a batch handler. Each key's events stay in order (a group is
    in offset order); nothing crosses an unbatched event."""
    groups: list[list[Envelope]] = []
    pending = todo
    while pending:
        _, head = pending[0]
        if head.type not in batched:
            groups.append([head])
            pending = pending[1:]
            continue
        group: list[Envelope] = [head]
        rest: list[tuple[str | None, Envelope]] = []
        blocked: set[str | None] = set()
        for i in range(1, len(pending)):
            key, event = pending[i]
            if event.type not in batched:
                rest += pending[i:]
                break
            if batched[event.type] is batched[head.type] and key not in blocked:
                group.append(event)
            else:
                blocked.add(key)
                rest.append((key, event))
        groups.append(group)
        pending = rest
    return groups


def dead_letter_headers(row: parked.ParkedEvent) -> list[tuple[str, bytes]]:
    """Where the record came from and why it failed: the error's type and a redacted
    message, never input values (the payload itself is the record's value)."""
    return [
        ("dlq-original-topic", row.topic.encode()),
        ("dlq-original-partition", str(row.partition).encode()),
        ("dlq-original-offset", str(row.offset).encode()),
        ("dlq-consumer-group", row.group_id.encode()),
        ("dlq-parked-id", str(row.id).encode()),
        ("dlq-status", row.status.value.encode()),
        ("dlq-error-type", row.error_type.encode()),
        ("dlq-error-message", row.error_message.encode()),
        ("dlq-attempts", str(row.attempts).encode()),
        ("dlq-failed-at", (row.parked_at or datetime.now(UTC)).isoformat().encode()),
    ]


async def _probe(consumer: AIOKafkaConsumer) -> None:
    """After a lost connection: a metadata request over the consumer's own client (not the
    producer the relay shares) tells whether the broker is back."""
    try:
        await asyncio.wait_for(consumer.topics(), 2)
    except (KafkaError, OSError, TimeoutError):
        return
    connectivity.restored()


async def _sleep(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep, cut short by ``stop``; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _until(awaitable: Awaitable[T], stop: asyncio.Event, timeout: float) -> T:
    """``awaitable``'s result, unless ``stop`` is set first (``_Stopped``) or it takes longer
    than ``timeout`` (``TimeoutError``)."""
    work: asyncio.Future[Any] = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {work, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopping.cancel()
    if work in done:
        return work.result()
    work.cancel()
    raise _Stopped() if stop.is_set() else TimeoutError()


def _parse_value(value: bytes | None) -> Envelope:
    if value is None:
        raise PoisonEvent("record has no value")
    try:
        return Envelope.from_bytes(value)
    except ValidationError as exc:
        raise PoisonEvent(f"not a valid CloudEvent: {redacted_message(exc)}") from exc


def _parse(record: ConsumerRecord) -> Envelope:
    return _parse_value(record.value)
