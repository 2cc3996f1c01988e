"""Transactional outbox. ``add`` writes events in the caller's transaction, so they exist if
and only if the state change that caused them committed. ``OutboxRelay`` publishes them.

Sharing the work: every row carries a shard derived from its key. Each relay keeps a
heartbeat row in ``outbox_relays``; the live relays (seen within the lease) split the shards
evenly by their rank (relay ``i`` of ``n`` takes the shards ``s % n == i``), so a new replica
takes its part at its next heartbeat and the shards of one that died are taken over when its
lease runs out. Exclusion does not rest on that agreement: a relay publishes a shard only
while it holds the shard's row lock (``FOR UPDATE SKIP LOCKED``), so while views differ for a
moment two relays never publish one shard at once, and a key's events keep their order.

Rows that can never be published (topic missing, record too large, not authorised) are
parked: ``parked_at`` and the error on the row, a metric, and the key held back (its later
rows wait behind it, in order) while every other key flows. An operator retries (after fixing
the cause) or discards it (shared.ops.outbox). Transient errors (broker down, leader moving)
are retried with back-off. A relay that dies between publishing and committing leaves its
rows unsent: they are published again (at-least-once) and consumers drop the duplicate by
event id."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.db import is_unavailable
from shared.events.envelope import CONTENT_TYPE, Envelope
from shared.messaging.kafka import KafkaLink
from shared.notifications import Notifications, sleep_unless_stopped

log = logging.getLogger(__name__)

SHARDS = 16  # fixed by the outbox_shards rows of create_messaging_tables_v1

PUBLISHED = Counter("outbox_published_total", "Events published from the outbox", ["topic"])
PENDING = Gauge("outbox_pending", "Events in the outbox not yet published (parked included)")
FAILURES = Counter("outbox_publish_failures_total", "Failed outbox publishing rounds")
PARKED_ROWS = Gauge("outbox_parked_rows", "Outbox rows parked: they cannot be published")
PARKINGS = Counter("outbox_parked_total", "Outbox rows parked as unpublishable", ["topic"])
SHARDS_HELD = Gauge("outbox_relay_shards", "Outbox shards assigned to this process's relay")
# Set at the start and after every finished round: a relay stuck inside a round stops it,
# and also stops its own gauges above, which only a finished round refreshes.
LAST_ROUND = Gauge(
    "outbox_relay_last_round_timestamp_seconds",
    "When this process's relay last finished a round (whether it published or not)",
)

_INSERT = sa.text(
    "INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) "
    "VALUES (:event_id, :topic, :key, :shard, :event_type, CAST(:payload AS json))"
)

# The shards of this relay that no other holds, locked till the round commits, and their
# rows that are unsent, not parked, not discarded, with no earlier row of their key parked:
# one round trip.
_READY = (
    "WITH mine AS MATERIALIZED (SELECT shard FROM outbox_shards WHERE shard = ANY($1::int[]) "
    "  ORDER BY shard FOR UPDATE SKIP LOCKED) "
    "SELECT id, topic, key, payload::text AS payload FROM outbox o "
    "WHERE sent_at IS NULL AND parked_at IS NULL AND discarded_at IS NULL "
    "AND shard IN (SELECT shard FROM mine) AND NOT EXISTS ("
    "  SELECT 1 FROM outbox p WHERE p.key = o.key AND p.parked_at IS NOT NULL "
    "  AND p.sent_at IS NULL AND p.discarded_at IS NULL) "
    "ORDER BY id LIMIT $2::int"
)
_SENT = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
_PARK = (
    "UPDATE outbox SET parked_at = now(), last_error = $2::text, attempts = attempts + 1 "
    "WHERE id = $1::bigint"
)


class TopicMissing(KafkaError):
    """The topic does not exist, or this client may not see it (auto-creation is off)."""


# Errors the same record meets however often it is sent: park it, do not retry.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    TopicMissing,
    MessageSizeTooLargeError,  # larger than max_request_size, or the topic's max.message.bytes
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    CorruptRecordException,
    InvalidTimestampError,
    PolicyViolationError,
    UnsupportedForMessageFormatError,
)


def is_permanent(exc: BaseException) -> bool:
    """A producer error that is the record's fault (park it), not the cluster's (retry)."""
    return isinstance(exc, PERMANENT_ERRORS)


def describe(exc: BaseException) -> str:
    """The error as stored on a parked row: its class and message, never the payload."""
    text = str(exc) or getattr(exc, "description", "") or ""
    return f"{type(exc).__name__}: {text}"[:2000]


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARDS


def fair_shards(relay_id: str, live: list[str]) -> list[int]:
    """The shards of ``relay_id`` among the ``live`` relays: an even split by rank."""
    ranked = sorted(set(live) | {relay_id})
    rank, count = ranked.index(relay_id), len(ranked)
    return [shard for shard in range(SHARDS) if shard % count == rank]


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


@dataclass(frozen=True)
class _Row:
    id: int
    topic: str
    key: str
    payload: str


@dataclass(frozen=True)
class _Failure:
    """Why a row did not go out. ``queued``: it failed after the producer queued it (the
    broker's answer or no answer), so the producer's sequence numbers have moved on."""

    error: BaseException
    queued: bool = False


@dataclass
class _Round:
    """What one publishing round did: the ids sent, the rows parked with their error, and
    the transient error that ended it early, if any."""

    sent: list[_Row]
    parked: list[tuple[_Row, str]]
    transient: BaseException | None = None


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        kafka: KafkaLink,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        retention: timedelta = timedelta(days=1),
        heartbeat_seconds: float = 2.0,
        lease_seconds: float = 10.0,
        send_timeout: float = 30.0,
        round_timeout: float = 60.0,
        slow_round_seconds: float = 5.0,
        relay_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.kafka = kafka
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self.heartbeat_seconds = heartbeat_seconds
        self.lease_seconds = lease_seconds
        self.send_timeout = send_timeout
        # Every wait inside a round is bounded on its own (statements, sends, connecting);
        # this bounds the round as a whole, so a wait nobody thought of cannot hold the
        # relay (and every event behind it) for good.
        self.round_timeout = round_timeout
        self.slow_round_seconds = slow_round_seconds
        self.relay_id = relay_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.shards: list[int] = []
        self.published = 0  # by this relay, for tests and logs
        self._beat_at = float("-inf")
        self._notes = Notifications(engine, "outbox")
        # Where the current round is and how long each of its steps took: named in the log
        # when a round is slow, abandoned or cancelled.
        self._phase = "idle"
        self._round_started = self._phase_since = 0.0
        self._spent: dict[str, float] = {}

    # -- sharing the shards ------------------------------------------------------------------

    async def heartbeat(self) -> list[int]:
        """Say this relay is alive and recompute its fair part of the shards."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO outbox_relays (relay_id, seen_at) VALUES (:me, now()) "
                    "ON CONFLICT (relay_id) DO UPDATE SET seen_at = now()"
                ),
                {"me": self.relay_id},
            )
            live = (
                await conn.execute(
                    sa.text(
                        "SELECT relay_id FROM outbox_relays "
                        "WHERE seen_at > now() - make_interval(secs => :lease)"
                    ),
                    {"lease": self.lease_seconds},
                )
            ).scalars().all()  # fmt: skip
        shards = fair_shards(self.relay_id, list(live))
        if shards != self.shards:
            log.info(
                "outbox relay shards assigned",
                extra={"relay": self.relay_id, "shards": shards, "live_relays": len(live)},
            )
        self.shards = shards
        SHARDS_HELD.set(len(shards))
        self._beat_at = asyncio.get_running_loop().time()
        return shards

    async def leave(self) -> None:
        """A clean stop: drop the heartbeat so the others take the shards over at once."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text("DELETE FROM outbox_relays WHERE relay_id = :me"), {"me": self.relay_id}
            )
        self.shards = []
        SHARDS_HELD.set(0)

    async def _maybe_heartbeat(self) -> None:
        if asyncio.get_running_loop().time() - self._beat_at >= self.heartbeat_seconds:
            await self.heartbeat()

    # -- publishing --------------------------------------------------------------------------

    async def publish_once(self) -> int:
        """Publish one batch from this relay's shards (those it can lock); returns how many
        rows were sent or parked. A transient Kafka error is raised after the rows that did
        go out are marked sent."""
        self._enter("heartbeat")
        await self._maybe_heartbeat()
        if not self.shards:
            return 0
        # The listening connection: a round is a few statements, and a pooled connection
        # through SQLAlchemy would double its CPU at a low rate (one round per event).
        self._enter("connecting")
        conn = await self._notes.connection()
        async with conn.transaction():
            self._enter("reading")
            rows = [
                _Row(r["id"], r["topic"], r["key"], r["payload"])
                for r in await conn.fetch(_READY, self.shards, self.batch_size)
            ]
            if not rows:
                return 0
            done = await self._publish(rows)
            self._enter("marking")
            if done.sent:
                await conn.execute(_SENT, [r.id for r in done.sent])
            for row, error in done.parked:
                await conn.execute(_PARK, row.id, error)
        for row in done.sent:
            PUBLISHED.labels(row.topic).inc()
        for row, _ in done.parked:
            PARKINGS.labels(row.topic).inc()
            PARKED_ROWS.inc()
            log.error(
                "outbox row parked: it cannot be published",
                extra={"outbox_id": row.id, "topic": row.topic, "key": row.key},
            )
        self.published += len(done.sent)
        if done.transient is not None:
            raise done.transient
        return len(done.sent) + len(done.parked)

    async def _publish(self, rows: list[_Row]) -> _Round:
        """Send ``rows`` (in id order) in waves of one row per key: a key's next row goes out
        only once its previous one is acknowledged, so a row that fails leaves nothing of its
        key published after it. Rows of other keys in a wave travel together."""
        done = _Round(sent=[], parked=[])
        self._enter("starting the producer")
        producer = await self.kafka.producer()
        self._enter("fetching metadata")
        missing = await self._missing_topics(producer, {r.topic for r in rows})
        queues: dict[str, deque[_Row]] = {}
        for row in rows:
            queues.setdefault(row.key, deque()).append(row)
        while queues:
            wave = [queue.popleft() for queue in queues.values()]
            results = await self._send(producer, wave, missing)
            if len(wave) > 1 and any(f and f.queued and is_permanent(f.error) for f in results):
                # A broker rejects a whole batch (several keys' records) for one record's
                # fault: resend the rejected ones alone to find it.
                producer = await self._fresh_producer()
                for i, failure in enumerate(results):
                    if failure and failure.queued and is_permanent(failure.error):
                        results[i] = alone = (await self._send(producer, [wave[i]], missing))[0]
                        if alone is not None and alone.queued:
                            producer = await self._fresh_producer()  # sequence numbers, again
            queued_failed = False
            for row, failure in zip(wave, results, strict=True):
                if failure is None:
                    done.sent.append(row)
                    continue
                queues.pop(row.key, None)  # the key's later rows wait behind this one
                queued_failed |= failure.queued
                if is_permanent(failure.error):
                    done.parked.append((row, describe(failure.error)))
                else:
                    done.transient = done.transient or failure.error
            queues = {key: queue for key, queue in queues.items() if queue}
            if done.transient is not None:
                break  # the cluster's trouble, not a row's: back off, then try again
            if queued_failed and queues:
                # The producer's sequence numbers ran past the rejected batch: start afresh.
                producer = await self._fresh_producer()
        return done

    async def _send(
        self, producer: AIOKafkaProducer, wave: list[_Row], missing: set[str]
    ) -> list[_Failure | None]:
        """Send the rows, wait for every acknowledgement; each row's failure or None."""
        headers = [("content-type", CONTENT_TYPE.encode())]
        results: list[_Failure | None] = [None] * len(wave)
        futures: dict[int, asyncio.Future] = {}
        self._enter("queueing records")
        for i, row in enumerate(wave):
            if row.topic in missing:
                results[i] = _Failure(TopicMissing(f"topic {row.topic!r} does not exist"))
                continue
            try:
                # send() queues records per partition in call order; the idempotent producer
                # keeps that order through its retries.
                futures[i] = await producer.send(
                    row.topic, row.payload.encode(), key=row.key.encode(), headers=headers
                )
            except KafkaError as exc:  # refused before queueing (e.g. larger than a request)
                results[i] = _Failure(exc)
        if futures:
            self._enter("awaiting acknowledgements")
            waited = asyncio.gather(*futures.values(), return_exceptions=True)
            try:
                outcomes = await asyncio.wait_for(waited, self.send_timeout)
            except TimeoutError:
                outcomes = [KafkaTimeoutError("no acknowledgement in time")] * len(futures)
            for i, outcome in zip(futures, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    results[i] = _Failure(outcome, queued=True)
        return results

    async def _missing_topics(self, producer: AIOKafkaProducer, topics: set[str]) -> set[str]:
        """Topics the cluster does not have: asking for them would wait out the request
        timeout and fail as if the broker were away. Cluster unreachable: a KafkaError."""
        unknown = {t for t in topics if producer.client.cluster.partitions_for_topic(t) is None}
        if not unknown:
            return set()
        metadata = await producer.client.fetch_all_metadata()
        return {t for t in unknown if t not in metadata.topics()}

    async def _fresh_producer(self) -> AIOKafkaProducer:
        self._enter("restarting the producer")
        await self.kafka.reset()
        return await self.kafka.producer()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        housekeeping = asyncio.get_running_loop().time()
        LAST_ROUND.set_to_current_time()
        try:
            while not stop.is_set():
                deadline = asyncio.timeout(self.round_timeout)
                self._begin_round()
                try:
                    async with deadline:
                        await self._notes.listen()
                        self._notes.clear()
                        handled = await self.publish_once()
                    self._end_round()
                    LAST_ROUND.set_to_current_time()
                    backoff = 0.2
                    now = asyncio.get_running_loop().time()
                    if now - housekeeping > 30:
                        housekeeping = now
                        await self.housekeeping()
                    if handled >= self.batch_size:
                        continue  # more may be waiting
                    # Wake for the heartbeat too: a relay silent past its lease loses its part.
                    await self._notes.wait(stop, min(self.poll_seconds, self.heartbeat_seconds))
                except asyncio.CancelledError:
                    if self._phase != "idle":
                        log.warning("outbox relay cancelled inside a round", extra=self._round())
                    raise
                except Exception as exc:
                    FAILURES.inc()
                    if deadline.expired():
                        # Its transaction rolls back with the connection: the rows it was
                        # publishing go out again (at-least-once; consumers drop duplicates).
                        log.error("outbox relay: round stuck, abandoned", extra=self._round())
                        await self._notes.close()
                        await self.kafka.reset()
                    elif isinstance(exc, KafkaError | TimeoutError):
                        log.warning(
                            "outbox relay: Kafka unavailable, retrying",
                            extra={"error": describe(exc)},
                        )
                        await self.kafka.reset()
                    else:
                        if is_unavailable(exc):
                            log.warning(
                                "outbox relay: database unavailable",
                                extra={"error": type(exc).__name__},
                            )
                        else:
                            log.exception("outbox relay failed")
                        await self._notes.close()  # reopened next round; it may be mid-statement
                    self._phase = "idle"
                    await sleep_unless_stopped(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
            try:
                await self.leave()
            except Exception:  # the database is away: the lease runs out instead
                log.warning("outbox relay: could not leave cleanly", extra={"relay": self.relay_id})
        finally:
            await self._notes.close()

    # -- where a round spends its time ---------------------------------------------------------

    def _begin_round(self) -> None:
        self._spent.clear()
        self._round_started = self._phase_since = time.monotonic()
        self._phase = "listening"

    def _enter(self, phase: str) -> None:
        now = time.monotonic()
        self._spent[self._phase] = self._spent.get(self._phase, 0.0) + now - self._phase_since
        self._phase, self._phase_since = phase, now

    def _round(self) -> dict[str, object]:
        """The current round for the log: the step it is in, its seconds, and each step's."""
        self._enter(self._phase)
        return {
            "relay": self.relay_id,
            "phase": self._phase,
            "seconds": round(time.monotonic() - self._round_started, 3),
            "steps": {phase: round(spent, 3) for phase, spent in self._spent.items()},
        }

    def _end_round(self) -> None:
        if time.monotonic() - self._round_started > self.slow_round_seconds:
            log.warning("outbox relay: slow round", extra=self._round())
        self._phase = "idle"

    async def housekeeping(self) -> None:
        """Forget events published (or discarded) longer ago than the retention and relays
        long gone; refresh the gauges."""
        async with self.engine.begin() as conn:
            keep = {"keep": self.retention}
            await conn.execute(
                sa.text("DELETE FROM outbox WHERE sent_at < now() - CAST(:keep AS interval)"), keep
            )
            await conn.execute(
                sa.text("DELETE FROM outbox WHERE discarded_at < now() - CAST(:keep AS interval)"),
                keep,
            )
            await conn.execute(
                sa.text(
                    "DELETE FROM outbox_relays "
                    "WHERE seen_at < now() - make_interval(secs => :lease * 10)"
                ),
                {"lease": self.lease_seconds},
            )
            counts = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*) FILTER (WHERE discarded_at IS NULL) AS pending, "
                        "count(*) FILTER (WHERE parked_at IS NOT NULL "
                        "                 AND discarded_at IS NULL) AS parked "
                        "FROM outbox WHERE sent_at IS NULL"
                    )
                )
            ).one()
        PENDING.set(counts.pending or 0)
        PARKED_ROWS.set(counts.parked or 0)
