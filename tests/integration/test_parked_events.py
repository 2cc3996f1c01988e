"""Parked events against the real PostgreSQL and Kafka: a key held behind its parked event
and released in order by a redrive (from the CLI), a redrive touching only the group that
failed, the admin API, the gauge."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import sqlalchemy as sa
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.cli import build_app
from shared.cli.common import CliContext
from shared.db import session_factory
from shared.events.envelope import Envelope
from shared.messaging import parked
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import KafkaLink
from tests.integration.test_consumer_runner import produce, run_until

ADMIN = {"Authorization": "Bearer admin-token-0123"}
AGENT = {"Authorization": "Bearer agent-token-0123"}


def event(key: str, seq: int) -> Envelope:
    return Envelope(source="/tests", type="test.probe", subject=key, data={"seq": seq})


async def effects_table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("CREATE TABLE effects (id serial PRIMARY KEY, grp text, key text, seq int)")
        )


async def effects(engine, group: str, key: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT seq FROM effects WHERE grp = :g AND key = :k ORDER BY id"),
            {"g": group, "k": key},
        )
        return list(rows.scalars())


async def rows_of(engine, group: str, key: str | None = None) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT * FROM parked_events WHERE group_id = :g "
                "AND (CAST(:k AS text) IS NULL OR key = :k) ORDER BY id"
            ),
            {"g": group, "k": key},
        )
        return [dict(r._mapping) for r in rows]


class Service:
    """A consumer group whose handler fails for the keys in ``broken``."""

    def __init__(self, engine, servers, topic: str) -> None:
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self.broken: set[str] = set()
        self.runner = ConsumerRunner(
            [topic],
            self.group,
            {"test.probe": self.handle},
            session_factory(engine),
            KafkaLink(servers.kafka_bootstrap, "t"),
            max_retries=0,
            housekeeping_seconds=0.2,
        )

    async def handle(self, session, found: Envelope) -> None:
        if found.subject in self.broken:
            raise RuntimeError("the downstream table is missing")
        await session.execute(
            sa.text("INSERT INTO effects (grp, key, seq) VALUES (:g, :k, :s)"),
            {"g": self.group, "k": found.subject, "s": found.data["seq"]},
        )


def database_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def invoke(*args: str, url: str | None = None, code: int = 0) -> str:
    """The CLI as an operator runs it, ``python -m services.<name> parked ...`` (the service
    hands its database to the command; its own event loop, so in a thread here)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, build_app(), list(args), obj=CliContext(url) if url else None
    )
    assert result.exit_code == code, result.output
    return result.output


async def test_a_key_is_held_behind_its_parked_event_and_a_redrive_replays_it_in_order(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    svc = Service(messaging_engine, servers, fresh_topic)
    k, other = str(uuid.uuid4()), str(uuid.uuid4())
    svc.broken.add(k)
    await produce(
        servers.kafka_bootstrap,
        fresh_topic,
        [(e.subject, e.to_bytes()) for e in [event(k, 1), event(k, 2), event(other, 1),
                                              event(k, 3)]],
    )  # fmt: skip

    async def settled() -> bool:
        return len(await rows_of(messaging_engine, svc.group, k)) == 3 and bool(
            await effects(messaging_engine, svc.group, other)
        )

    await run_until(svc.runner, settled)
    rows = await rows_of(messaging_engine, svc.group, k)
    assert [r["status"] for r in rows] == ["parked", "held", "held"]
    assert [r["error_type"] for r in rows] == ["RuntimeError", "KeyHeld", "KeyHeld"]
    assert await effects(messaging_engine, svc.group, k) == []  # nothing moved on

    await svc.runner.refresh_gauge()
    labels = {"group": svc.group, "topic": fresh_topic}
    assert REGISTRY.get_sample_value("consumer_parked_events", labels | {"status": "parked"}) == 1
    assert REGISTRY.get_sample_value("consumer_parked_events", labels | {"status": "held"}) == 2

    url = database_url(messaging_engine)
    listing = await invoke("parked", "list", "--group", svc.group, url=url)
    assert "parked" in listing and "held" in listing and str(rows[0]["id"]) in listing
    shown = await invoke("parked", "show", str(rows[0]["id"]), "--database-url", url)
    assert "downstream table is missing" in shown and '"seq": 1' in shown
    refused = await invoke(
        "parked", "redrive", str(rows[1]["id"]), "-r", "out of order", url=url, code=1
    )
    assert "held behind" in refused

    # Fixed: the operator redrives the parked event; a later event of the key arrives too.
    svc.broken.clear()
    await invoke("parked", "redrive", str(rows[0]["id"]), "--reason", "table restored",
                 "--by", "ops-li", "--database-url", url)  # fmt: skip
    await produce(servers.kafka_bootstrap, fresh_topic, [(k, event(k, 4).to_bytes())])

    async def replayed() -> bool:
        return len(await effects(messaging_engine, svc.group, k)) == 4

    await run_until(svc.runner, replayed)
    assert await effects(messaging_engine, svc.group, k) == [1, 2, 3, 4]
    # The fourth came while the key was still held (then it was queued behind the others)
    # or after the replay: either way it came last, and nothing is left open.
    after = await rows_of(messaging_engine, svc.group, k)
    assert {r["status"] for r in after} == {"redriven"} and len(after) in (3, 4)
    shown = await invoke("parked", "show", str(rows[0]["id"]), "--database-url", url)
    assert "redrive  by ops-li: table restored" in shown
    await svc.runner.refresh_gauge()
    assert REGISTRY.get_sample_value("consumer_parked_events", labels | {"status": "held"}) == 0
    await svc.runner.kafka.close()


async def test_a_redrive_replays_only_the_group_that_failed(messaging_engine, servers, fresh_topic):
    await effects_table(messaging_engine)
    first, second = (Service(messaging_engine, servers, fresh_topic) for _ in range(2))
    k = str(uuid.uuid4())
    first.broken.add(k)
    second.broken.add(k)
    await produce(servers.kafka_bootstrap, fresh_topic,
                  [(k, event(k, 1).to_bytes()), (k, event(k, 2).to_bytes())])  # fmt: skip

    for svc in (first, second):

        async def parked_two(svc=svc) -> bool:
            return len(await rows_of(messaging_engine, svc.group, k)) == 2

        await run_until(svc.runner, parked_two)

    first.broken.clear()
    second.broken.clear()
    [head, _] = await rows_of(messaging_engine, first.group, k)
    async with session_factory(messaging_engine).begin() as session:
        await parked.request_redrive(session, head["id"], "ops-li", "first group fixed")

    async def first_replayed() -> bool:
        return await effects(messaging_engine, first.group, k) == [1, 2]

    await run_until(first.runner, first_replayed)
    # The second group runs too (its own housekeeping rounds, a new event on another key to
    # show it is alive) and leaves its parked event alone: nobody asked to redrive it.
    other = str(uuid.uuid4())
    await produce(servers.kafka_bootstrap, fresh_topic, [(other, event(other, 1).to_bytes())])

    async def second_alive() -> bool:
        return bool(await effects(messaging_engine, second.group, other))

    await run_until(second.runner, second_alive)
    assert await effects(messaging_engine, second.group, k) == []
    assert [r["status"] for r in await rows_of(messaging_engine, second.group, k)] == [
        "parked", "held",
    ]  # fmt: skip
    assert [r["status"] for r in await rows_of(messaging_engine, first.group, k)] == [
        "redriven", "redriven",
    ]  # fmt: skip
    for svc in (first, second):
        await svc.runner.kafka.close()


async def test_the_admin_api_lists_shows_and_discards_parked_events(
    messaging_engine, servers, fresh_topic
):
    await effects_table(messaging_engine)
    svc = Service(messaging_engine, servers, fresh_topic)
    k = str(uuid.uuid4())
    svc.broken.add(k)
    await produce(servers.kafka_bootstrap, fresh_topic,
                  [(k, event(k, 1).to_bytes()), (k, event(k, 2).to_bytes())])  # fmt: skip

    async def parked_two() -> bool:
        return len(await rows_of(messaging_engine, svc.group, k)) == 2

    await run_until(svc.runner, parked_two)
    settings = IntakeSettings(
        database_url=database_url(messaging_engine),
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        api_keys="web:web-key-0123456789",
        ops_tokens="frontline-li:agent-token-0123,admin-ops:admin-token-0123",
    )
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            assert (await client.get("/admin/parked")).status_code == 401
            assert (await client.get("/admin/parked", headers=AGENT)).status_code == 403
            listing = await client.get("/admin/parked", params={"group": svc.group}, headers=ADMIN)
            assert listing.status_code == 200, listing.text
            items = listing.json()["items"]
            assert [(i["status"], i["key"]) for i in items] == [("parked", k), ("held", k)]
            head = items[0]["id"]
            shown = (await client.get(f"/admin/parked/{head}", headers=ADMIN)).json()
            assert shown["error_type"] == "RuntimeError"
            assert shown["payload"]["data"] == {"seq": 1} and shown["payload_encoding"] == "json"
            assert (await client.get("/admin/parked/999999999", headers=ADMIN)).status_code == 404
            short = await client.post(
                f"/admin/parked/{head}/discard", json={"reason": ""}, headers=ADMIN
            )
            assert short.status_code == 422
            held = await client.post(
                f"/admin/parked/{items[1]['id']}/redrive", json={"reason": "x" * 5}, headers=ADMIN
            )
            assert held.status_code == 409 and "held behind" in held.json()["detail"]
            svc.broken.clear()
            discarded = await client.post(
                f"/admin/parked/{head}/discard", json={"reason": "test data"}, headers=ADMIN
            )
            assert discarded.status_code == 200, discarded.text
            body = discarded.json()
            assert body["status"] == "discarded"
            assert [(a["action"], a["reason"]) for a in body["audit"]] == [("discard", "test data")]
            assert body["audit"][0]["actor"] == "admin-ops"  # the person, no credential
            again = await client.post(
                f"/admin/parked/{head}/discard", json={"reason": "twice"}, headers=ADMIN
            )
            assert again.status_code == 409
    finally:
        await app.state.runtime.engine.dispose()

    # The held event behind the discarded one is replayed.
    async def released() -> bool:
        return await effects(messaging_engine, svc.group, k) == [2]

    await run_until(svc.runner, released)
    assert [r["status"] for r in await rows_of(messaging_engine, svc.group, k)] == [
        "discarded", "redriven",
    ]  # fmt: skip
    await svc.runner.kafka.close()
