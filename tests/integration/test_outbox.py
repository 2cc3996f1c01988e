"""The transactional outbox and its relay against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from pydantic import BaseModel

from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging import outbox
from shared.messaging.kafka import KafkaLink
from shared.messaging.outbox import OutboxRelay
from tests.support.kafka import read_until
from tests.support.servers import Servers


class Probe(BaseModel):
    seq: int


def event(key: str, seq: int) -> Envelope:
    return Envelope(source="/tests", type="test.probe", subject=key, data={"seq": seq})


async def all_marked_sent(engine, timeout: float) -> None:
    for _ in range(int(timeout * 10)):
        async with engine.connect() as conn:
            left = await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        if left == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"outbox not drained in {timeout:.0f}s")


async def relay_until_drained(engine, kafka: KafkaLink, relays: int = 1) -> None:
    stop = asyncio.Event()
    runners = [
        OutboxRelay(
            engine,
            KafkaLink(kafka.bootstrap_servers, f"relay-{i}"),
            batch_size=25,
            poll_seconds=0.1,
        )
        for i in range(relays)
    ]
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    try:
        await all_marked_sent(engine, timeout=30)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for r in runners:
            await r.kafka.close()


async def test_a_failed_transaction_publishes_nothing(
    messaging_engine, servers: Servers, topics: Topics
):
    key_failed, key_ok = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        async with messaging_engine.begin() as conn:
            await outbox.add(conn, topics.intake, [event(key_failed, 1)])
            raise RuntimeError("the state change failed")
    async with messaging_engine.begin() as conn:
        await outbox.add(conn, topics.intake, [event(key_ok, 1)])
    kafka = KafkaLink(servers.kafka_bootstrap, "test")
    await relay_until_drained(messaging_engine, kafka)
    # The committed event arriving proves the relay ran past the point the failed one would be.
    seen = await read_until(
        servers.kafka_bootstrap,
        topics.intake,
        lambda kept: any(r.key == key_ok for r in kept),
        lambda r: r.key in (key_ok, key_failed),
    )
    assert [r.key for r in seen] == [key_ok]
    async with messaging_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 1


async def test_relay_publishes_in_order_per_key_with_the_envelope(
    messaging_engine, servers, topics
):
    keys = [str(uuid.uuid4()) for _ in range(5)]
    async with messaging_engine.begin() as conn:
        for seq in range(20):
            await outbox.add(conn, topics.handling, [event(k, seq) for k in keys])
    await relay_until_drained(messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"))
    seen = await read_until(
        servers.kafka_bootstrap,
        topics.handling,
        lambda kept: len(kept) >= 100,
        lambda r: r.key in keys,
    )
    by_key = defaultdict(list)
    for r in seen:
        by_key[r.key].append(r.value["data"]["seq"])
        assert r.headers["content-type"].startswith(b"application/cloudevents+json")
        assert r.value["specversion"] == "1.0" and r.value["subject"] == r.key
    assert all(seqs == list(range(20)) for seqs in by_key.values())


async def published_once(servers: Servers, topic: str, key: str, timeout: float) -> None:
    await read_until(
        servers.kafka_bootstrap, topic, lambda kept: len(kept) == 1, lambda r: r.key == key,
        timeout=timeout,
    )  # fmt: skip


@asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
        await relay.kafka.close()


async def test_two_relays_publish_each_event_once_and_in_order(messaging_engine, servers, topics):
    keys = [str(uuid.uuid4()) for _ in range(40)]
    async with messaging_engine.begin() as conn:
        for seq in range(10):
            await outbox.add(conn, topics.followup, [event(k, seq) for k in keys])
    await relay_until_drained(messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"), relays=2)
    seen = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 400,
        lambda r: r.key in keys,
    )
    await asyncio.sleep(1)  # let any duplicate arrive
    seen = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 400,
        lambda r: r.key in keys,
        timeout=5,
    )
    ids = [r.value["id"] for r in seen]
    assert len(ids) == len(set(ids)) == 400
    by_key = defaultdict(list)
    for r in seen:
        by_key[r.key].append(r.value["data"]["seq"])
    assert all(seqs == list(range(10)) for seqs in by_key.values())


async def test_sent_events_are_marked_and_notify_wakes_the_relay(messaging_engine, servers, topics):
    """An idle relay polling every 30 s still publishes at once: the insert's NOTIFY wakes it.
    Each round it finishes says when (the gauge a stuck relay's alert watches)."""
    relay = OutboxRelay(messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"), poll_seconds=30)
    async with running(relay):
        await asyncio.sleep(1)  # the relay is now waiting
        key = str(uuid.uuid4())
        inserted_at = time.time()
        async with messaging_engine.begin() as conn:
            await outbox.add(conn, topics.intake, [event(key, 1)])
        await published_once(servers, topics.intake, key, timeout=10)
        await asyncio.sleep(0.2)  # the round that published has finished
        last_round = REGISTRY.get_sample_value("outbox_relay_last_round_timestamp_seconds")
        assert last_round is not None and inserted_at <= last_round <= time.time()
    async with messaging_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0


async def test_a_relay_whose_connection_is_cut_reopens_it_and_goes_on(
    messaging_engine, servers, topics
):
    """The relay publishes on its own connection (the one it listens on): the server
    ending it, as in a failover or an administrator's pg_terminate_backend, costs a back-off
    and a reconnection, not the rows inserted meanwhile."""
    relay = OutboxRelay(messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"), poll_seconds=30)
    async with running(relay):
        for key in [str(uuid.uuid4()) for _ in range(2)]:
            await asyncio.sleep(1)  # the relay waits on its connection
            async with messaging_engine.begin() as conn:
                cut = await conn.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() "
                        "AND application_name = 'outbox listener'"
                    )
                )
                assert cut == 1
            async with messaging_engine.begin() as conn:
                await outbox.add(conn, topics.intake, [event(key, 1)])
            await published_once(servers, topics.intake, key, timeout=30)


async def test_a_round_stuck_past_its_bound_is_abandoned_named_and_retried(
    messaging_engine, servers, topics, caplog
):
    """A round waiting on something with no bound of its own (here a lock another transaction
    holds on its row) is cut off after the relay's round timeout: the log names the step it
    hung in, its transaction rolls back, and a later round publishes the row again and marks
    it (at-least-once: consumers drop the duplicate by event id)."""
    key = str(uuid.uuid4())
    async with messaging_engine.begin() as conn:
        await outbox.add(conn, topics.intake, [event(key, 1)])
    relay = OutboxRelay(
        messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"), poll_seconds=30,
        round_timeout=2,
    )  # fmt: skip
    async with messaging_engine.connect() as blocker:
        await blocker.begin()
        await blocker.execute(
            sa.text("SELECT id FROM outbox WHERE key = :key FOR UPDATE"), {"key": key}
        )
        async with running(relay):
            for _ in range(100):
                stuck = [
                    r for r in caplog.records if r.getMessage().endswith("round stuck, abandoned")
                ]
                if stuck:
                    break
                await asyncio.sleep(0.1)
            assert stuck, "the stuck round was not abandoned"
            assert stuck[0].phase == "marking" and stuck[0].seconds >= 2
            assert stuck[0].steps["awaiting acknowledgements"] < 2
            await blocker.rollback()
            await all_marked_sent(messaging_engine, timeout=10)
    await read_until(
        servers.kafka_bootstrap, topics.intake, lambda kept: len(kept) >= 2,
        lambda r: r.key == key,
    )  # fmt: skip


async def test_housekeeping_forgets_only_events_published_long_ago(messaging_engine, servers):
    async with messaging_engine.begin() as conn:
        await outbox.add(conn, "t", [event("old", 1), event("recent", 1), event("unsent", 1)])
        await conn.execute(
            sa.text(
                "UPDATE outbox SET sent_at = now() - CASE key WHEN 'old' THEN interval '2 days' "
                "ELSE interval '1 hour' END WHERE key IN ('old', 'recent')"
            )
        )
    relay = OutboxRelay(messaging_engine, KafkaLink(servers.kafka_bootstrap, "t"))
    await relay.housekeeping()
    async with messaging_engine.connect() as conn:
        left = (await conn.execute(sa.text("SELECT key FROM outbox ORDER BY key"))).scalars().all()
    assert left == ["recent", "unsent"]
