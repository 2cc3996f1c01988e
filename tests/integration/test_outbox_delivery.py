"""The outbox relay, version 2, against the real PostgreSQL and Kafka: relays share the shards
and take over a dead one's; a row that can never be published is parked while the other keys
flow and its key's later rows wait; an operator's retry publishes them in order, a discard
lets the key go on; the admin API and the command line over the same operations."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from fastapi import FastAPI
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from shared.cli import build_app
from shared.cli.common import CliContext
from shared.directory import DEMO_DIRECTORY, load_directory
from shared.events.envelope import Envelope
from shared.messaging import outbox
from shared.messaging.kafka import KafkaLink
from shared.messaging.outbox import SHARDS, OutboxRelay, shard_of
from shared.ops import Conflict
from shared.ops import outbox as ops
from shared.web.admin_outbox import admin_outbox_router
from shared.web.ops_auth import Authenticator
from tests.support.kafka import read_until
from tests.support.servers import Servers

SMALL = 2048  # max.message.bytes of the test's "small" topic


def event(key: str, seq: int, pad: int = 0) -> Envelope:
    return Envelope(
        source="/tests", type="test.probe", subject=key, data={"seq": seq, "pad": "x" * pad}
    )


def relay(engine, servers: Servers, name: str) -> OutboxRelay:
    return OutboxRelay(
        engine,
        KafkaLink(servers.kafka_bootstrap, name),
        batch_size=50,
        poll_seconds=0.1,
        heartbeat_seconds=0.2,
        lease_seconds=1.5,
        send_timeout=15,
        relay_id=name,
    )


async def eventually(check, what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"not reached in {timeout}s: {what}"
        await asyncio.sleep(0.1)


async def unsent(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(
            sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND discarded_at IS NULL")
        )


async def create_topic(servers: Servers, name: str, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def alter_topic(servers: Servers, name: str, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs)])
    finally:
        await admin.close()


def seqs_by_key(records) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for r in records:
        found[r.key].append(r.value["data"]["seq"])
    return found


def keys_on_every_shard(per_shard: int = 2) -> list[str]:
    keys: dict[int, list[str]] = defaultdict(list)
    while min((len(keys[s]) for s in range(SHARDS)), default=0) < per_shard:
        key = str(uuid.uuid4())
        keys[shard_of(key)].append(key)
    return [k for s in range(SHARDS) for k in keys[s][:per_shard]]


async def test_two_relays_share_the_shards_and_one_takes_over_when_the_other_dies(
    messaging_engine, servers, fresh_topic
):
    a, b = relay(messaging_engine, servers, "relay-a"), relay(messaging_engine, servers, "relay-b")
    stop = asyncio.Event()
    task_a = asyncio.create_task(a.run(stop))
    task_b = asyncio.create_task(b.run(stop))
    try:

        async def shared_evenly() -> bool:
            return len(a.shards) == len(b.shards) == SHARDS // 2 and not set(a.shards) & set(
                b.shards
            )

        await eventually(shared_evenly, "each relay holds half the shards")
        keys = keys_on_every_shard()
        async with messaging_engine.begin() as conn:
            for seq in range(3):
                await outbox.add(conn, fresh_topic, [event(k, seq) for k in keys])

        async def drained() -> bool:
            return await unsent(messaging_engine) == 0

        await eventually(drained, "outbox drained by two relays")
        assert a.published > 0 and b.published > 0
        assert a.published + b.published == 3 * len(keys)

        # relay-b dies: no goodbye, its heartbeat just stops. relay-a takes its shards over
        # when the lease runs out, and publishes their rows.
        task_b.cancel()
        await asyncio.gather(task_b, return_exceptions=True)
        published_by_b = b.published
        async with messaging_engine.begin() as conn:
            await outbox.add(conn, fresh_topic, [event(k, 3) for k in keys])

        async def all_to_a() -> bool:
            return len(a.shards) == SHARDS

        await eventually(all_to_a, "relay-a holds every shard")
        await eventually(drained, "outbox drained by the survivor")
        assert b.published == published_by_b
    finally:
        stop.set()
        await asyncio.gather(task_a, return_exceptions=True)
        for r in (a, b):
            await r.kafka.close()
    seen = await read_until(
        servers.kafka_bootstrap, fresh_topic, lambda kept: len(kept) >= 4 * len(keys)
    )
    assert all(seqs == [0, 1, 2, 3] for seqs in seqs_by_key(seen).values())
    async with messaging_engine.connect() as conn:  # relay-a said goodbye when stopped
        relays = (await conn.execute(sa.text("SELECT relay_id FROM outbox_relays"))).scalars()
        assert "relay-a" not in list(relays)


async def test_unpublishable_row_parked_others_flow_its_key_waits_retry_publishes_in_order(
    messaging_engine, servers, topics
):
    small = f"{topics.prefix}small-{uuid.uuid4().hex[:6]}"
    missing = f"{topics.prefix}missing-{uuid.uuid4().hex[:6]}"
    await create_topic(servers, small, **{"max.message.bytes": str(SMALL)})
    big_key, lost_key = str(uuid.uuid4()), str(uuid.uuid4())
    others = [str(uuid.uuid4()) for _ in range(6)]
    parked_before = REGISTRY.get_sample_value("outbox_parked_total", {"topic": small}) or 0
    async with messaging_engine.begin() as conn:
        await outbox.add(conn, small, [event(big_key, 0)])
        await outbox.add(conn, missing, [event(lost_key, 0)])
        await outbox.add(conn, small, [event(k, 0) for k in others])
        await outbox.add(conn, small, [event(big_key, 1, pad=3 * SMALL)])  # too large
        await outbox.add(conn, small, [event(lost_key, 1)])
        for seq in (1, 2, 3):
            await outbox.add(conn, small, [event(k, seq) for k in others])
            await outbox.add(conn, small, [event(big_key, seq + 1)])

    stop = asyncio.Event()
    r = relay(messaging_engine, servers, "relay-park")
    task = asyncio.create_task(r.run(stop))
    try:

        async def parked_and_others_sent() -> bool:
            async with messaging_engine.connect() as conn:
                return await conn.scalar(
                    sa.text(
                        "SELECT count(*) FILTER (WHERE parked_at IS NOT NULL) = 2 "
                        "AND count(*) FILTER (WHERE key = ANY(:others) AND sent_at IS NULL) = 0 "
                        "FROM outbox"
                    ),
                    {"others": others},
                )

        await eventually(parked_and_others_sent, "two rows parked, the other keys published")
        parked = await ops.list_rows(messaging_engine)
        assert [(p.key, p.topic) for p in parked] == [(lost_key, missing), (big_key, small)]
        assert "TopicMissing" in parked[0].last_error
        assert "MessageSizeTooLarge" in parked[1].last_error
        detail = await ops.get_row(messaging_engine, parked[1].id)
        assert detail.held_back == 3 and detail.payload_bytes > SMALL
        pending = await ops.list_rows(messaging_engine, ops.OutboxStatus.PENDING)
        assert sorted(p.key for p in pending) == sorted([lost_key] + [big_key] * 3)
        assert REGISTRY.get_sample_value("outbox_parked_total", {"topic": small}) == (
            parked_before + 1
        )

        # Fix the causes (the topic created, the size limit raised), then retry.
        await create_topic(servers, missing)
        await alter_topic(servers, small, **{"max.message.bytes": str(1024 * 1024)})
        for row in parked:
            await ops.retry(messaging_engine, row.id, actor="test:ops", reason="fixed")
        with pytest.raises(Conflict):
            await ops.retry(messaging_engine, parked[0].id, actor="test:ops")

        async def drained() -> bool:
            return await unsent(messaging_engine) == 0

        await eventually(drained, "the retried rows and those behind them published")
    finally:
        stop.set()
        await task
        await r.kafka.close()

    seen = await read_until(
        servers.kafka_bootstrap, small, lambda kept: len(kept) >= 5 + 4 * len(others) + 1
    )
    by_key = seqs_by_key(seen)
    assert by_key[big_key] == [0, 1, 2, 3, 4]
    assert by_key[lost_key] == [1]
    assert all(by_key[k] == [0, 1, 2, 3] for k in others)
    lost = await read_until(servers.kafka_bootstrap, missing, lambda kept: len(kept) >= 1)
    assert [(x.key, x.value["data"]["seq"]) for x in lost] == [(lost_key, 0)]
    detail = await ops.get_row(messaging_engine, parked[1].id)
    assert detail.row.status is ops.OutboxStatus.SENT
    assert [(a.actor, a.action, a.reason) for a in detail.audit] == [
        ("test:ops", "outbox.retry", "fixed")
    ]


async def test_a_discarded_row_lets_its_key_go_on(messaging_engine, servers, topics):
    missing = f"{topics.prefix}never-{uuid.uuid4().hex[:6]}"
    good = f"{topics.prefix}good-{uuid.uuid4().hex[:6]}"
    await create_topic(servers, good)
    key = str(uuid.uuid4())
    async with messaging_engine.begin() as conn:
        await outbox.add(conn, missing, [event(key, 0)])
        await outbox.add(conn, good, [event(key, 1), event(key, 2)])
    stop = asyncio.Event()
    r = relay(messaging_engine, servers, "relay-discard")
    task = asyncio.create_task(r.run(stop))
    try:

        async def parked() -> bool:
            return bool(await ops.list_rows(messaging_engine))

        await eventually(parked, "the row to the missing topic parked")
        [row] = await ops.list_rows(messaging_engine)
        with pytest.raises(ValueError):
            await ops.discard(messaging_engine, row.id, actor="test:ops", reason="  ")
        await ops.discard(messaging_engine, row.id, actor="test:ops", reason="topic retired")

        async def drained() -> bool:
            return await unsent(messaging_engine) == 0

        await eventually(drained, "the key's later rows published")
    finally:
        stop.set()
        await task
        await r.kafka.close()
    seen = await read_until(servers.kafka_bootstrap, good, lambda kept: len(kept) >= 2)
    assert seqs_by_key(seen)[key] == [1, 2]
    detail = await ops.get_row(messaging_engine, row.id)
    assert detail.row.status is ops.OutboxStatus.DISCARDED
    assert [(a.action, a.reason) for a in detail.audit] == [("outbox.discard", "topic retired")]


async def park_one(engine, topic: str) -> int:
    """A row parked as if the relay had failed to publish it."""
    async with engine.begin() as conn:
        await outbox.add(conn, topic, [event(str(uuid.uuid4()), 0)])
        return await conn.scalar(
            sa.text(
                "UPDATE outbox SET parked_at = now(), last_error = 'TopicMissing: gone', "
                "attempts = 1 WHERE id = (SELECT max(id) FROM outbox) RETURNING id"
            )
        )


async def test_admin_api_lists_shows_retries_and_discards_parked_rows(messaging_engine, topics):
    first = await park_one(messaging_engine, topics.intake)
    second = await park_one(messaging_engine, topics.intake)
    app = FastAPI()
    app.state.runtime = SimpleNamespace(engine=messaging_engine)
    app.state.auth = Authenticator(
        load_directory(DEMO_DIRECTORY),
        dev_tokens=[("admin-ops", "admin-token"), ("frontline-li", "agent-token")],
    )
    app.include_router(admin_outbox_router())
    admin = {"Authorization": "Bearer admin-token"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        assert (await client.get("/admin/outbox")).status_code == 401
        agent = {"Authorization": "Bearer agent-token"}
        assert (await client.get("/admin/outbox", headers=agent)).status_code == 403
        listed = (await client.get("/admin/outbox?status=parked&limit=1", headers=admin)).json()
        assert [row["id"] for row in listed["items"]] == [first]
        page = await client.get(
            f"/admin/outbox?limit=1&cursor={listed['next_cursor']}", headers=admin
        )
        assert [row["id"] for row in page.json()["items"]] == [second]
        assert (await client.get("/admin/outbox?status=lost", headers=admin)).status_code == 422
        shown = (await client.get(f"/admin/outbox/{first}", headers=admin)).json()
        assert shown["row"]["last_error"] == "TopicMissing: gone" and shown["payload_bytes"] > 0
        assert (await client.get("/admin/outbox/999999", headers=admin)).status_code == 404

        no_reason = await client.post(f"/admin/outbox/{first}/discard", headers=admin, json={})
        assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == [
            "body",
            "reason",
        ]
        discarded = await client.post(
            f"/admin/outbox/{first}/discard", headers=admin, json={"reason": "duplicate"}
        )
        assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
        again = await client.post(f"/admin/outbox/{first}/retry", headers=admin)
        assert again.status_code == 409
        retried = await client.post(f"/admin/outbox/{second}/retry", headers=admin)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        audit = (await client.get(f"/admin/outbox/{first}", headers=admin)).json()["audit"]
        assert [(a["actor"], a["action"], a["reason"]) for a in audit] == [
            ("admin-ops", "outbox.discard", "duplicate")  # the person, no credential
        ]


async def test_command_line_lists_shows_retries_and_discards(messaging_engine, topics):
    first = await park_one(messaging_engine, topics.intake)
    second = await park_one(messaging_engine, topics.intake)
    url = messaging_engine.url.render_as_string(hide_password=False)
    runner, app = CliRunner(), build_app()

    def cli(*args: str):
        return runner.invoke(app, list(args), obj=CliContext(url))

    # The commands run their own event loop, as from a shell: keep them off this one.
    listed = await asyncio.to_thread(cli, "outbox", "list")
    assert listed.exit_code == 0, listed.output
    assert str(first) in listed.output and "2 parked row(s)" in listed.output
    shown = await asyncio.to_thread(cli, "outbox", "show", str(first))
    assert shown.exit_code == 0 and "TopicMissing: gone" in shown.output
    missing = await asyncio.to_thread(cli, "outbox", "show", "999999")
    assert missing.exit_code == 1
    no_reason = await asyncio.to_thread(cli, "outbox", "discard", str(first))
    assert no_reason.exit_code == 2  # --reason is required
    discarded = await asyncio.to_thread(
        cli, "outbox", "discard", str(first), "--reason", "duplicate", "--by", "cli:ana"
    )
    assert discarded.exit_code == 0 and "1 row(s) discarded" in discarded.output
    retried = await asyncio.to_thread(cli, "outbox", "retry", "--all")
    assert retried.exit_code == 0 and "1 row(s) retried" in retried.output
    assert await ops.list_rows(messaging_engine) == []
    detail = await ops.get_row(messaging_engine, first)
    assert [(a.actor, a.action, a.reason) for a in detail.audit] == [
        ("cli:ana", "outbox.discard", "duplicate")
    ]
    assert (await ops.get_row(messaging_engine, second)).row.status is ops.OutboxStatus.PENDING


async def test_housekeeping_deletes_sent_rows_through_an_index(messaging_engine):
    async with messaging_engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = await conn.execute(
            sa.text("EXPLAIN DELETE FROM outbox WHERE sent_at < now() - interval '1 day'")
        )
        assert "ix_outbox_sent" in "\n".join(plan.scalars())
