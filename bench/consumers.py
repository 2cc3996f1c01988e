"""Each service's main consumer on a backlog, against a bare aiokafka loop over the same records.

For each service: a backlog of realistic events (built with the real event models) produced
to fresh topics; the service's own consumer runner, wired exactly as its app wires it
(handlers, hooks, batch handlers), runs in this process on a fresh migrated database; then a
bare loop (aiokafka, one transaction per fetched partition batch doing only the inbox insert,
one statement) consumes the same records into its own fresh inbox table. Both rates come from
the inbox's own times (first to last transaction), so start-up and group joins are not
counted; the consumer's CPU per event is this process's CPU over its run.

BENCH_CONSUMERS_EVENTS (default 20000 per service), BENCH_CONSUMERS_ONLY (e.g.
``escalation,satisfaction``), BENCH_CONSUMERS_PARTITIONS (default 3), BENCH_CONSUMERS_BATCH
(records per fetch, for both; default the runner's own)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._db import KAFKA, async_url, scratch_database
from shared.entrypoint import settle_garbage_collector
from shared.events.common import Channel, ContactCard, Mode, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.handling import CaseAcknowledged, CaseOpened, CaseResolved
from shared.events.intake import ComplaintReceived, Customer
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from shared.messaging.consumer import ConsumerRunner
from shared.runtime import Runtime
from shared.settings import ServiceSettings
from tests.support.topics import delete_topics_with_prefix

EVENTS = int(os.environ.get("BENCH_CONSUMERS_EVENTS", "20000"))
ONLY = {s for s in os.environ.get("BENCH_CONSUMERS_ONLY", "").split(",") if s}
PARTITIONS = int(os.environ.get("BENCH_CONSUMERS_PARTITIONS", "3"))
BATCH = int(os.environ.get("BENCH_CONSUMERS_BATCH", "0"))  # records per fetch; 0: the runner's
TIERS = list(Tier)
CHANNELS = list(Channel)
LEVELS = list(SatisfactionLevel)


# ---- realistic events ---------------------------------------------------------------------


def received(i: int, cid: uuid.UUID, at: datetime) -> Envelope:
    data = ComplaintReceived(
        complaint_id=cid, received_at=at, channel=CHANNELS[i % 5], mode=Mode.REMOTE,
        category=["product_quality", "delivery", "billing"][i % 3], severity=Severity.GENERAL,
        severity_reasons=[], description="洗衣机漏水", information_complete=True,
        customer=Customer(id=f"c-{i % 997}", name="李娜", phone="+86 138 0013 8000",
                          tier=TIERS[i % 5]),
        acknowledge_by=at + timedelta(hours=2),
    )  # fmt: skip
    return new_event("/bench/intake", str(cid), data)


def opened(i: int, cid: uuid.UUID, at: datetime) -> Envelope:
    data = CaseOpened(
        complaint_id=cid, opened_at=at, level="frontline", severity=Severity.GENERAL,
        tier=TIERS[i % 5], mode=Mode.REMOTE, channel=CHANNELS[i % 5], category="billing",
        policy_version="bench", deadlines={"acknowledge": at + timedelta(hours=2)},
    )  # fmt: skip
    return new_event("/bench/escalation", str(cid), data)


def acknowledged(i: int, cid: uuid.UUID, at: datetime) -> Envelope:
    data = CaseAcknowledged(complaint_id=cid, at=at, by=f"p-{i % 13}", level="frontline")
    return new_event("/bench/escalation", str(cid), data)


def resolved(i: int, cid: uuid.UUID, at: datetime) -> Envelope:
    data = CaseResolved(
        complaint_id=cid, at=at, by=f"p-{i % 13}", round=1, resolution="refunded",
        severity=Severity.GENERAL, channel=CHANNELS[i % 5], category="billing",
        customer=ContactCard(id=f"c-{i % 997}", name="李娜", phone="13800000000",
                             tier=TIERS[i % 5]),
        tier=TIERS[i % 5], level="frontline", highest_level="frontline",
        clocks_met={"acknowledge": i % 10 != 0},
    )  # fmt: skip
    return new_event("/bench/escalation", str(cid), data)


def surveyed(i: int, cid: uuid.UUID, at: datetime) -> Envelope:
    level = LEVELS[i % 6]
    data = SurveyRecorded(
        complaint_id=cid, survey_id=None, cycle=1, level=level, score=level.score,
        factors=["speed", "attitude"][: 1 + i % 2], comment="评论", taken_by="customer",
        recorded_at=at,
    )  # fmt: skip
    return new_event("/bench/satisfaction", str(cid), data)


Steps = list[tuple[str, Callable[[int, uuid.UUID, datetime], Envelope]]]
LIFE: Steps = [
    ("intake", received),
    ("handling", opened),
    ("handling", acknowledged),
    ("handling", resolved),
    ("satisfaction", surveyed),
]


def backlog(steps: Steps, n: int) -> tuple[list[tuple[str, Envelope]], list[uuid.UUID]]:
    """``n`` events: complaints going through ``steps``, interleaved the way a live stream
    is (a complaint's later events come after other complaints' earlier ones)."""
    now = datetime.now(UTC) - timedelta(hours=1)
    complaints = -(-n // len(steps))
    ids = [uuid.uuid4() for _ in range(complaints)]
    out: list[tuple[str, Envelope]] = []
    wave = 200  # complaints in flight together
    for start in range(0, complaints, wave):
        chunk = range(start, min(start + wave, complaints))
        for step, (topic, make) in enumerate(steps):
            out += [(topic, make(i, ids[i], now + timedelta(seconds=i + step))) for i in chunk]
    return out[:n], ids


async def produce(topics: Topics, records: list[tuple[str, Envelope]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, linger_ms=20, max_batch_size=256 * 1024, acks=1
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for topic, event in records:
            pending.append(
                await producer.send(getattr(topics, topic), event.to_bytes(), key=event.key)
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


# ---- the services' consumers --------------------------------------------------------------


@dataclass
class Target:
    name: str
    steps: Steps
    build: Callable[[str, Topics], ConsumerRunner]
    seed: Callable[[asyncpg.Connection, list[uuid.UUID]], object] | None = None


def _runner_of(tasks: list) -> ConsumerRunner:
    found = [t.__self__ for t in tasks if isinstance(getattr(t, "__self__", None), ConsumerRunner)]
    if BATCH:
        found[0].batch_size = BATCH
    return found[0]


def _common(dsn: str, topics: Topics) -> dict:
    return {
        "database_url": async_url(dsn),
        "kafka_bootstrap_servers": KAFKA,
        "kafka_topic_prefix": topics.prefix,
        "log_level": "WARNING",
    }


def build_escalation(dsn: str, topics: Topics) -> ConsumerRunner:
    from services.escalation.app import background_tasks, load_staff
    from services.escalation.policy_file import load_policy
    from services.escalation.settings import EscalationSettings
    from services.escalation.usecases import Escalation

    settings = EscalationSettings(**_common(dsn, topics))
    policy = load_policy(settings.policy_file)
    runtime = Runtime.build(settings)
    escalation = Escalation(runtime.sessions, runtime.topics, policy, load_staff(settings, policy))
    return _runner_of(background_tasks(escalation)(runtime))


def build_satisfaction(dsn: str, topics: Topics) -> ConsumerRunner:
    from services.satisfaction.app import background_tasks
    from services.satisfaction.settings import SatisfactionSettings

    return _runner_of(background_tasks(Runtime.build(SatisfactionSettings(**_common(dsn, topics)))))


def build_followup(dsn: str, topics: Topics) -> ConsumerRunner:
    from services.followup.app import tasks_for
    from services.followup.callbacks import Deps
    from services.followup.domain.policy import load_policy
    from services.followup.settings import FollowupSettings
    from shared.directory import directory_file, load_directory

    settings = FollowupSettings(**_common(dsn, topics))
    runtime = Runtime.build(settings)
    deps = Deps(
        topics=runtime.topics,
        policy=load_policy(settings.policy_file),
        directory=load_directory(directory_file(settings.staff_directory_file)),
    )
    return _runner_of(tasks_for(deps)(runtime))


def build_intake(dsn: str, topics: Topics) -> ConsumerRunner:
    from services.intake.app import background_tasks
    from services.intake.settings import IntakeSettings

    return _runner_of(background_tasks(Runtime.build(IntakeSettings(**_common(dsn, topics)))))


async def seed_intake(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """The complaints the status events are about, as intake recorded them."""
    await conn.execute(
        "INSERT INTO complaints (id, channel, category, status, severity, severity_reasons, "
        "valid, customer_tier, customer, description, documents, flags, in_litigation, covered, "
        "missing_fields, received_at, status_changed_at) "
        "SELECT id, 'web', 'billing', 'received', 'general', '[]', true, 'B', "
        "'{\"name\": \"n\"}', 'd', '[]', '{}', false, true, '[]', "
        "now() - interval '2 hours', now() - interval '2 hours' FROM unnest($1::uuid[]) AS id",
        ids,
    )


def build_ledger(dsn: str, topics: Topics) -> ConsumerRunner:
    from services.ledger.app import tasks_for
    from services.ledger.deps import Deps
    from services.ledger.settings import LedgerSettings

    settings = LedgerSettings(**_common(dsn, topics))
    runtime = Runtime.build(settings)
    deps = Deps.of(settings, runtime.topics)
    return _runner_of(tasks_for(deps)(runtime))


TARGETS = [
    Target("escalation", [("intake", received)], build_escalation),
    Target("satisfaction", LIFE, build_satisfaction),
    Target("followup", [("handling", resolved)], build_followup),
    Target(
        "intake",
        [("handling", opened), ("handling", acknowledged), ("handling", resolved)],
        build_intake,
        seed_intake,
    ),
    Target("ledger", LIFE, build_ledger),
]


# ---- measuring ----------------------------------------------------------------------------


async def inbox_pace(conn: asyncpg.Connection, table: str = "inbox") -> tuple[int, float]:
    n, first, last = await conn.fetchrow(
        f"SELECT count(*), min(processed_at), max(processed_at) FROM {table}"
    )
    return n, max((last - first).total_seconds(), 1e-6) if n else 1e-6


async def wait_inbox(conn: asyncpg.Connection, expect: int, limit: float = 900) -> None:
    started = time.monotonic()
    while await conn.fetchval("SELECT count(*) FROM inbox") < expect:
        if time.monotonic() - started > limit:
            raise TimeoutError(f"not all {expect} events processed in {limit:.0f} s")
        await asyncio.sleep(0.2)


async def run_service(target: Target, topics: Topics, expect: int, ids) -> tuple[float, float]:
    """The service's consumer over the backlog: events/s and CPU ms per event."""
    async with scratch_database(target.name) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            if target.seed is not None:
                await target.seed(conn, ids)
            runner = target.build(dsn, topics)
            settle_garbage_collector(ServiceSettings().gc_young_threshold)  # as the services do
            expect = expect if expect >= 0 else 0
            stop = asyncio.Event()
            cpu0 = time.process_time()
            task = asyncio.create_task(runner.run(stop))
            try:
                await wait_inbox(conn, expect)
            finally:
                stop.set()
                await task
                await runner.sessions.kw["bind"].dispose()
            cpu = time.process_time() - cpu0
            n, seconds = await inbox_pace(conn)
            parked = await conn.fetchval("SELECT count(*) FROM parked_events")
            if parked:
                print(f"  !! {parked} events parked: the backlog is not what the handlers expect")
        finally:
            await conn.close()
    return n / seconds, cpu * 1000 / max(n, 1)


async def run_bare(topics: list[str], expect: int, batch_size: int) -> float:
    """Only the inbox insert: per fetched partition batch, one transaction, one statement."""
    async with scratch_database("bare", migrate=False) as dsn:
        conn = await asyncpg.connect(dsn)
        await conn.execute(
            "CREATE TABLE inbox (event_id uuid PRIMARY KEY, topic text NOT NULL, "
            "event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now())"
        )
        pool = await asyncpg.create_pool(dsn, min_size=PARTITIONS, max_size=PARTITIONS)
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=KAFKA, group_id=f"bare-{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False, auto_offset_reset="earliest",
        )  # fmt: skip
        await consumer.start()

        async def one(records) -> None:
            ids, kinds = [], []
            for record in records:
                event = orjson.loads(record.value)
                ids.append(event["id"])
                kinds.append(event["type"])
            async with pool.acquire() as c, c.transaction():
                await c.execute(
                    "INSERT INTO inbox (event_id, topic, event_type) "
                    "SELECT unnest($1::uuid[]), $2, unnest($3::text[]) ON CONFLICT DO NOTHING",
                    ids,
                    records[0].topic,
                    kinds,
                )

        try:
            done = 0
            while done < expect:
                batches = await consumer.getmany(timeout_ms=500, max_records=batch_size)
                await asyncio.gather(*(one(records) for records in batches.values()))
                if batches:
                    await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
                done += sum(len(rs) for rs in batches.values())
            n, seconds = await inbox_pace(conn)
        finally:
            await consumer.stop()
            await pool.close()
            await conn.close()
    return n / seconds


async def bench() -> None:
    print(f"{EVENTS} events per service, {PARTITIONS} partitions per topic; rates from the "
          "inbox times (first to last transaction)")  # fmt: skip
    for target in TARGETS:
        if ONLY and target.name not in ONLY:
            continue
        topics = Topics(f"bench-cons-{uuid.uuid4().hex[:6]}.")
        await ensure_topics(KAFKA, topics.all(), partitions=PARTITIONS)
        records, ids = backlog(target.steps, EVENTS)
        took = await produce(topics, records)
        # What the runner handles lands in its inbox; the rest it ignores.
        probe = target.build("postgresql://x@127.0.0.1:1/x", topics)
        await probe.sessions.kw["bind"].dispose()
        handled = sum(
            1
            for _, e in records
            if e.type in set(probe.handlers) | set(getattr(probe, "batch_handlers", {}))
        )
        used = sorted({getattr(topics, t) for t, _ in target.steps})
        try:
            rate, cpu = await run_service(target, topics, handled, ids)
            bare = await run_bare(used, len(records), probe.batch_size)
        finally:
            await delete_topics_with_prefix(KAFKA, topics.prefix)
        ratio = rate / bare
        goals = (("0.5x", ratio >= 0.5), ("5,000 ev/s", rate >= 5000))
        missed = [goal for goal, met in goals if not met]
        verdict = f"below goal ({', '.join(missed)})" if missed else "ok (0.5x, 5,000 ev/s)"
        print(
            f"  {target.name:<12} {len(records)} events produced in {took:.1f} s; consumer "
            f"{rate:7.0f} ev/s ({cpu:.2f} ms CPU/event), bare inbox loop {bare:7.0f} ev/s, "
            f"ratio {ratio:.2f}x: {verdict}",
            flush=True,
        )


def run() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    run()
