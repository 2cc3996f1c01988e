"""The runner's set-based path against the real Kafka and PostgreSQL: batch handlers get
several events at once, duplicates in a batch (and events seen before) have one effect, a
poison event in a batch is isolated and parked while its neighbours take effect once, and
each key's events take effect in order across batched and unbatched types."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from shared.db import session_factory
from shared.events.envelope import Envelope
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import KafkaLink
from tests.integration.test_consumer_runner import produce, run_until


def event(kind: str, key: str, seq: int, **data) -> Envelope:
    return Envelope(source="/tests", type=kind, subject=key, data={"seq": seq} | data)


async def effects_table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE TABLE effects (id serial PRIMARY KEY, event_id uuid, key text, "
                "seq int, how text)"
            )
        )


async def effects(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT * FROM effects ORDER BY id"))
        return [dict(r._mapping) for r in rows]


class Probe:
    """Handlers writing one effect row per event; the batch handler notes its batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    async def one(self, session, e: Envelope) -> None:
        if e.data.get("poison"):
            raise RuntimeError("poison")
        await self._write(session, [e], "one")

    async def many(self, session, events: list[Envelope]) -> None:
        self.batches.append(len(events))
        if any(e.data.get("poison") for e in events):
            raise RuntimeError("poison in the batch")
        await self._write(session, events, "many")

    async def _write(self, session, events: list[Envelope], how: str) -> None:
        await session.execute(
            sa.text("INSERT INTO effects (event_id, key, seq, how) VALUES (:id, :key, :seq, :how)"),
            [{"id": e.id, "key": e.subject, "seq": e.data["seq"], "how": how} for e in events],
        )


def runner(engine, servers, topic: str, probe: Probe, batched: list[str]) -> ConsumerRunner:
    handlers = {kind: probe.one for kind in ("test.a", "test.b", "test.plain")}
    return ConsumerRunner(
        topics=[topic],
        group_id=f"batches-{uuid.uuid4().hex[:6]}",
        handlers=handlers,
        batch_handlers={kind: probe.many for kind in batched},
        sessions=session_factory(engine),
        kafka=KafkaLink(servers.kafka_bootstrap, "test-batches"),
        retry_backoff=0.01,
    )


async def test_duplicates_in_a_batch_and_events_seen_before_have_one_effect(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    probe = Probe()
    keys = [str(uuid.uuid4()) for _ in range(5)]
    events = [event("test.a", k, i) for i, k in enumerate(keys)]
    seen_before = events[0]
    async with session_factory(messaging_engine).begin() as session:
        await session.execute(
            sa.text("INSERT INTO inbox (event_id, topic, event_type) VALUES (:id, :t, 'test.a')"),
            {"id": seen_before.id, "t": fresh_topic},
        )
    # Each event twice in the same partition (a producer retry), all in one fetch.
    records = [(e.subject, e.to_bytes()) for e in events + events]
    await produce(servers.kafka_bootstrap, fresh_topic, records, partition=0)
    r = runner(messaging_engine, servers, fresh_topic, probe, ["test.a"])

    async def done() -> bool:
        return len(await effects(messaging_engine)) >= 4

    await run_until(r, done)
    found = await effects(messaging_engine)
    assert sorted(f["event_id"] for f in found) == sorted(e.id for e in events[1:])
    assert max(probe.batches) > 1  # the batch handler took them together
    assert {f["how"] for f in found} == {"many"}


async def test_a_poison_event_in_a_batch_is_parked_alone_and_its_key_held(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    probe = Probe()
    bad, good = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]
    events = [event("test.a", k, 1) for k in good[:2]]
    events += [event("test.a", bad, 1, poison=True), event("test.a", bad, 2)]
    events += [event("test.a", k, 1) for k in good[2:]]
    await produce(
        servers.kafka_bootstrap, fresh_topic, [(e.subject, e.to_bytes()) for e in events], 0
    )
    r = runner(messaging_engine, servers, fresh_topic, probe, ["test.a"])

    async def parked_rows() -> list[dict]:
        async with messaging_engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT key, status FROM parked_events WHERE group_id = :g ORDER BY id"),
                {"g": r.group_id},
            )
            return [dict(x._mapping) for x in rows]

    async def settled() -> bool:
        return len(await parked_rows()) == 2 and len(await effects(messaging_engine)) == 4

    await run_until(r, settled)
    found = await effects(messaging_engine)
    assert sorted(f["key"] for f in found) == sorted(good)  # each once, nothing of the bad key
    assert [(p["key"], p["status"]) for p in await parked_rows()] == [
        (bad, "parked"),
        (bad, "held"),
    ]
    assert max(probe.batches) > 1  # the batch was tried together first


async def test_each_key_takes_effect_in_order_across_batched_and_unbatched_types(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    probe = Probe()
    keys = [str(uuid.uuid4()) for _ in range(6)]
    # Each key: a, b, a, plain, a, b; interleaved key by key, step by step.
    steps = ["test.a", "test.b", "test.a", "test.plain", "test.a", "test.b"]
    events = [event(kind, k, seq) for seq, kind in enumerate(steps) for k in keys]
    await produce(
        servers.kafka_bootstrap, fresh_topic, [(e.subject, e.to_bytes()) for e in events], 0
    )
    r = runner(messaging_engine, servers, fresh_topic, probe, ["test.a", "test.b"])

    async def done() -> bool:
        return len(await effects(messaging_engine)) == len(events)

    await run_until(r, done)
    found = await effects(messaging_engine)
    for k in keys:
        assert [f["seq"] for f in found if f["key"] == k] == list(range(len(steps)))
    assert len({f["event_id"] for f in found}) == len(events)
    assert max(probe.batches) > 1
    assert {f["how"] for f in found if f["seq"] == 3} == {"one"}  # unbatched: one by one
