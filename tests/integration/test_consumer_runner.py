"""The idempotent consumer runner: inbox dedup, retries, dead-letter topic."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.db import session_factory
from shared.events.envelope import Envelope
from shared.events.topics import dead_letter
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import KafkaLink
from tests.support.kafka import read_until


async def produce(
    bootstrap: str, topic: str, records: list[tuple[str, bytes]], partition: int | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode(), partition=partition)
    finally:
        await producer.stop()


async def effects_table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("CREATE TABLE effects (id serial PRIMARY KEY, event_id uuid, seq int)")
        )


async def count_effects(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_id::text, count(*) FROM effects GROUP BY 1")
        )
        return dict(rows.all())


async def run_until(runner: ConsumerRunner, condition, timeout: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            assert not task.done(), task
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task


def probe(key: str, seq: int, event_id: uuid.UUID | None = None) -> Envelope:
    return Envelope(
        id=event_id or uuid.uuid4(),
        source="/tests",
        type="test.probe",
        subject=key,
        data={"seq": seq},
    )


async def record_effect(session, event: Envelope) -> None:
    await session.execute(
        sa.text("INSERT INTO effects (event_id, seq) VALUES (:id, :seq)"),
        {"id": event.id, "seq": event.data["seq"]},
    )


async def test_a_redelivered_event_has_one_effect(messaging_engine, servers, fresh_topic):
    await effects_table(messaging_engine)
    key = str(uuid.uuid4())
    first, second = probe(key, 1), probe(key, 2)
    await produce(
        servers.kafka_bootstrap,
        fresh_topic,
        [
            (key, first.to_bytes()),
            (key, first.to_bytes()),
            (key, second.to_bytes()),
            (key, first.to_bytes()),
        ],
    )
    group = f"g-{uuid.uuid4().hex[:8]}"

    def runner() -> ConsumerRunner:
        return ConsumerRunner(
            [fresh_topic],
            group,
            {"test.probe": record_effect},
            session_factory(messaging_engine),
            KafkaLink(servers.kafka_bootstrap, "t"),
        )

    async def both_applied() -> bool:
        return len(await count_effects(messaging_engine)) == 2

    await run_until(runner(), both_applied)
    assert await count_effects(messaging_engine) == {str(first.id): 1, str(second.id): 1}

    # A new group replays the whole topic (as after an offset reset): still one effect each.
    async with messaging_engine.begin() as conn:
        replayed = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
    group = f"g-{uuid.uuid4().hex[:8]}"

    async def replayed_all() -> bool:
        # The replay is done once the inbox has seen a marker published after the others.
        async with messaging_engine.connect() as conn:
            return await conn.scalar(sa.text("SELECT count(*) FROM inbox")) > replayed

    await produce(servers.kafka_bootstrap, fresh_topic, [(key, probe(key, 3).to_bytes())])
    await run_until(runner(), replayed_all)
    effects = await count_effects(messaging_engine)
    assert effects[str(first.id)] == 1 and effects[str(second.id)] == 1 and len(effects) == 3


async def parked_rows(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT * FROM parked_events ORDER BY id"))
        return [dict(r._mapping) for r in rows]


async def test_a_failing_event_is_retried_then_parked_and_other_keys_move_on(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    bad, good = probe(str(uuid.uuid4()), -1), probe(str(uuid.uuid4()), 7)
    junk_key = str(uuid.uuid4())
    attempts = 0

    async def handler(session, event: Envelope) -> None:
        nonlocal attempts
        if event.data["seq"] < 0:
            attempts += 1
            await record_effect(session, event)  # written, then rolled back with the failure
            raise RuntimeError("cannot handle a negative sequence")
        await record_effect(session, event)

    await produce(
        servers.kafka_bootstrap,
        fresh_topic,
        [(bad.subject, bad.to_bytes()), (junk_key, b"{not json"), (good.subject, good.to_bytes())],
        0,  # one partition, one batch: the unparseable record sends it event by event at once
    )
    runner = ConsumerRunner(
        [fresh_topic],
        f"g-{uuid.uuid4().hex[:8]}",
        {"test.probe": handler},
        session_factory(messaging_engine),
        KafkaLink(servers.kafka_bootstrap, "t"),
        max_retries=2,
        retry_backoff=0.05,
    )

    async def all_settled() -> bool:
        return (
            str(good.id) in await count_effects(messaging_engine)
            and len(await parked_rows(messaging_engine)) == 2
        )

    await run_until(runner, all_settled)
    assert attempts == 3  # the first try and two retries
    assert await count_effects(messaging_engine) == {str(good.id): 1}
    rows = {r["key"]: r for r in await parked_rows(messaging_engine)}
    failing, poison = rows[bad.subject], rows[junk_key]
    assert failing["status"] == poison["status"] == "parked"
    assert failing["event_id"] == bad.id and failing["attempts"] == 3
    assert failing["error_type"] == "RuntimeError"
    assert failing["payload"] == bad.to_bytes()  # the exact record, for the redrive
    assert poison["error_type"] == "PoisonEvent" and poison["attempts"] == 1
    assert poison["payload"] == b"{not json" and poison["event_id"] is None

    # Their copies reach the dead-letter topic, naming the group that failed.
    await run_until(runner, lambda: _dead_lettered(messaging_engine, 2))
    copies = await read_until(
        servers.kafka_bootstrap,
        dead_letter(fresh_topic),
        lambda kept: len(kept) >= 2,
        lambda r: r.key in (bad.subject, junk_key),
    )
    by_key = {c.key: c for c in copies}
    assert by_key[bad.subject].value["id"] == str(bad.id)
    headers = by_key[bad.subject].headers
    assert headers["dlq-error-type"] == b"RuntimeError"
    assert b"negative sequence" in headers["dlq-error-message"]
    assert headers["dlq-attempts"] == b"3"
    assert headers["dlq-original-topic"] == fresh_topic.encode()
    assert headers["dlq-consumer-group"] == runner.group_id.encode()
    assert by_key[junk_key].headers["dlq-error-type"] == b"PoisonEvent"
    await runner.kafka.close()


async def _dead_lettered(engine, n: int) -> bool:
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.text("SELECT count(*) FROM parked_events WHERE dead_lettered_at IS NOT NULL")
        )
    return found >= n


async def test_events_without_a_handler_are_skipped(messaging_engine, servers, fresh_topic):
    await effects_table(messaging_engine)
    key = str(uuid.uuid4())
    other = Envelope(source="/tests", type="test.other", subject=key, data={})
    mine = probe(key, 1)
    await produce(
        servers.kafka_bootstrap,
        fresh_topic,
        [(key, other.to_bytes()), (key, mine.to_bytes())],
    )
    runner = ConsumerRunner(
        [fresh_topic],
        f"g-{uuid.uuid4().hex[:8]}",
        {"test.probe": record_effect},
        session_factory(messaging_engine),
        KafkaLink(servers.kafka_bootstrap, "t"),
    )

    async def applied() -> bool:
        return bool(await count_effects(messaging_engine))

    await run_until(runner, applied)
    async with messaging_engine.connect() as conn:
        inbox = (await conn.execute(sa.text("SELECT event_id::text FROM inbox"))).scalars().all()
    assert inbox == [str(mine.id)]


async def test_the_inbox_forgets_ids_older_than_its_retention(messaging_engine, servers):
    runner = ConsumerRunner(["unused"], "g", {}, session_factory(messaging_engine),
                            KafkaLink(servers.kafka_bootstrap, "t"))  # fmt: skip
    async with messaging_engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO inbox (event_id, topic, event_type, processed_at) VALUES "
                "(gen_random_uuid(), 't', 'x', now() - interval '31 days'), "
                "(gen_random_uuid(), 't', 'x', now() - interval '29 days')"
            )
        )
    assert await runner.prune_inbox() == 1
    async with messaging_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 1


async def test_a_batch_shares_one_transaction_and_a_failure_in_it_costs_nothing(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    key = str(uuid.uuid4())
    events = [probe(key, seq) for seq in range(20)]
    events.insert(10, probe(str(uuid.uuid4()), -1))  # another key, fails every time

    async def handler(session, event: Envelope) -> None:
        await record_effect(session, event)
        if event.data["seq"] < 0:
            raise RuntimeError("cannot handle a negative sequence")

    # One partition: the failing event is in the same fetched batch as the others.
    await produce(
        servers.kafka_bootstrap, fresh_topic, [(e.subject, e.to_bytes()) for e in events], 0
    )
    kafka = KafkaLink(servers.kafka_bootstrap, "t")
    runner = ConsumerRunner([fresh_topic], f"g-{uuid.uuid4().hex[:8]}", {"test.probe": handler},
                            session_factory(messaging_engine), kafka, max_retries=1,
                            retry_backoff=0.05)  # fmt: skip

    async def all_good_applied() -> bool:
        return len(await count_effects(messaging_engine)) == 20

    await run_until(runner, all_good_applied)
    effects = await count_effects(messaging_engine)
    assert set(effects.values()) == {1} and str(events[10].id) not in effects
    async with messaging_engine.connect() as conn:
        order = (await conn.execute(sa.text("SELECT seq FROM effects ORDER BY id"))).scalars().all()
    assert order == list(range(20))
    assert [r["event_id"] for r in await parked_rows(messaging_engine)] == [events[10].id]
    await runner.kafka.close()


async def test_events_fetched_together_commit_together(messaging_engine, servers, fresh_topic):
    await effects_table(messaging_engine)
    key = str(uuid.uuid4())
    await produce(servers.kafka_bootstrap, fresh_topic,
                  [(key, probe(key, seq).to_bytes()) for seq in range(30)])  # fmt: skip
    runner = ConsumerRunner([fresh_topic], f"g-{uuid.uuid4().hex[:8]}",
                            {"test.probe": record_effect}, session_factory(messaging_engine),
                            KafkaLink(servers.kafka_bootstrap, "t"))  # fmt: skip

    async def applied() -> bool:
        return len(await count_effects(messaging_engine)) == 30

    await run_until(runner, applied)
    async with messaging_engine.connect() as conn:
        transactions = await conn.scalar(sa.text("SELECT count(DISTINCT xmin::text) FROM effects"))
    assert transactions < 30  # batched: far fewer commits than events


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    probe_consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe_consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]  # fresh_topic's partitions
        return {tp.partition: o for tp, o in (await probe_consumer.end_offsets(tps)).items() if o}
    finally:
        await probe_consumer.stop()


async def test_offsets_go_to_kafka_at_the_stop_and_before_a_rebalance(
    messaging_engine, servers, fresh_topic
):
    """Offsets are committed at most every ``commit_interval_seconds``; what is processed in
    between still reaches Kafka when the runner stops, and when a new member takes some of
    its partitions (so that member starts where this one stopped)."""
    await effects_table(messaging_engine)
    keys = [str(uuid.uuid4()) for _ in range(12)]
    await produce(servers.kafka_bootstrap, fresh_topic,
                  [(k, probe(k, i).to_bytes()) for i, k in enumerate(keys)])  # fmt: skip
    ends = await end_offsets(servers.kafka_bootstrap, fresh_topic)
    group = f"g-{uuid.uuid4().hex[:8]}"

    def runner() -> ConsumerRunner:
        return ConsumerRunner([fresh_topic], group, {"test.probe": record_effect},
                              session_factory(messaging_engine),
                              KafkaLink(servers.kafka_bootstrap, "t"),
                              commit_interval_seconds=3600)  # fmt: skip

    async def applied(n: int):
        async def check() -> bool:
            return sum((await count_effects(messaging_engine)).values()) >= n

        return check

    first, stop = runner(), asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not await (await applied(12))():
            assert asyncio.get_running_loop().time() < deadline and not task.done()
            await asyncio.sleep(0.2)
        # The first commit went out with the first batch; what comes later waits for the
        # interval...
        later = [str(uuid.uuid4()) for _ in range(6)]
        await produce(servers.kafka_bootstrap, fresh_topic,
                      [(k, probe(k, i).to_bytes()) for i, k in enumerate(later)])  # fmt: skip
        ends = await end_offsets(servers.kafka_bootstrap, fresh_topic)
        while not await (await applied(18))():
            assert asyncio.get_running_loop().time() < deadline and not task.done()
            await asyncio.sleep(0.2)
        assert await committed_offsets(servers.kafka_bootstrap, group, fresh_topic) != ends
        # ...until a second member joins: the first commits what it processed before it lets
        # its partitions go.
        second_stop = asyncio.Event()
        second = asyncio.create_task(runner().run(second_stop))
        try:
            while await committed_offsets(servers.kafka_bootstrap, group, fresh_topic) != ends:
                assert asyncio.get_running_loop().time() < deadline + 30, "no commit on revoke"
                await asyncio.sleep(0.3)
        finally:
            second_stop.set()
            await second
    finally:
        stop.set()
        await task
    assert sum((await count_effects(messaging_engine)).values()) == 18  # no second effect

    # A new runner: its first batch is committed at once, the next one by the stop.
    third, stop = runner(), asyncio.Event()
    task = asyncio.create_task(third.run(stop))
    try:
        for wave, total in ((1, 21), (2, 24)):
            more = [str(uuid.uuid4()) for _ in range(3)]
            await produce(servers.kafka_bootstrap, fresh_topic,
                          [(k, probe(k, wave).to_bytes()) for k in more])  # fmt: skip
            while not await (await applied(total))():
                assert asyncio.get_running_loop().time() < deadline + 60 and not task.done()
                await asyncio.sleep(0.2)
        ends = await end_offsets(servers.kafka_bootstrap, fresh_topic)
        assert await committed_offsets(servers.kafka_bootstrap, group, fresh_topic) != ends
    finally:
        stop.set()
        await task
    assert await committed_offsets(servers.kafka_bootstrap, group, fresh_topic) == ends


async def test_one_fetch_of_several_partitions_is_one_transaction(
    messaging_engine, servers, fresh_topic
):
    """At moderate rates a fetch holds a few events of many partitions: they share one
    transaction (and one inbox claim), each partition's events in order."""
    await effects_table(messaging_engine)
    for partition in range(3):
        await produce(
            servers.kafka_bootstrap,
            fresh_topic,
            [(f"k{partition}", probe(f"k{partition}", partition * 100 + i).to_bytes())
             for i in range(5)],
            partition=partition,
        )  # fmt: skip
    runner = ConsumerRunner([fresh_topic], f"g-{uuid.uuid4().hex[:8]}",
                            {"test.probe": record_effect}, session_factory(messaging_engine),
                            KafkaLink(servers.kafka_bootstrap, "t"))  # fmt: skip

    async def applied() -> bool:
        return len(await count_effects(messaging_engine)) == 15

    await run_until(runner, applied)
    async with messaging_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT xmin::text AS tx, seq FROM effects ORDER BY id")
            )
        ).all()  # fmt: skip
    partitions_per_tx: dict[str, set[int]] = {}
    for tx, seq in rows:
        partitions_per_tx.setdefault(tx, set()).add(seq // 100)
    assert any(len(p) > 1 for p in partitions_per_tx.values()), partitions_per_tx
    for partition in range(3):  # each partition's events applied in order
        seqs = [seq for _, seq in rows if seq // 100 == partition]
        assert seqs == sorted(seqs) and len(seqs) == 5
