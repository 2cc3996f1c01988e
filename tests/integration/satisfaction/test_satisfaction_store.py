"""The store against the real database and Kafka: rollups from the topics, redelivered events
counted once, the rebuild giving identical figures, and the answer API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from services.satisfaction.app import create_app
from services.satisfaction.rebuild import rebuild
from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store.tables import (
    rollup_daily,
    rollup_factors,
    rollup_resolve,
    rollup_resolve_month,
)
from services.satisfaction.usecases import LockOrder, handlers, source_topics
from shared.db import create_engine
from shared.events.common import ContactCard, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.topics import Topics
from shared.runtime import Runtime
from tests.unit.satisfaction import scenario

PERIOD = {"from": str(scenario.PERIOD[0]), "to": str(scenario.PERIOD[1])}


async def publish(bootstrap: str, topics: Topics, events: list[tuple[str, Envelope]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for topic, event in events:
            await producer.send(getattr(topics, topic), event.to_bytes(), key=event.key)
        await producer.flush()
    finally:
        await producer.stop()


async def consume_until(settings: SatisfactionSettings, processed: int, timeout: float = 30):
    """Run the service's own consumer until the inbox holds ``processed`` events."""
    runtime = Runtime.build(settings)
    runner = runtime.consumer(
        source_topics(runtime.topics), handlers(settings.escalation_ladder), hooks=LockOrder()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with runtime.engine.connect() as conn:
                n = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
            if n >= processed:
                break
            assert asyncio.get_running_loop().time() < deadline, f"only {n} events processed"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # let a redelivered duplicate, if any, reach the inbox check
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await runtime.kafka.close()
        await runtime.engine.dispose()


async def snapshot(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url, 2)
    try:
        async with engine.connect() as conn:
            out = {}
            for table in (rollup_daily, rollup_resolve, rollup_resolve_month, rollup_factors):
                rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                # rows whose increments cancelled out carry no information
                counts = 3 if table is rollup_daily else -1
                out[table.name] = [tuple(r) for r in rows if any(r[counts:])]
            return out
    finally:
        await engine.dispose()


async def report(settings: SatisfactionSettings, **params: str) -> dict:
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/reports/summary", params=PERIOD | params)
            assert answer.status_code == 200, answer.text
            return answer.json()
    finally:
        await app.state.runtime.engine.dispose()


async def test_rollups_redelivery_and_rebuild(settings: SatisfactionSettings, own_topics) -> None:
    events = scenario.envelopes()
    # Every event once, then five of them again with the same ids: a redelivery. And one
    # that can never be applied (no clock): parked live, skipped by the rebuild. It names a
    # complaint of its own: a parked event holds its complaint's later events.
    redelivered = [events[0], events[3], events[7], events[-1], events[-2]]
    stray = uuid.uuid4()
    poison = Envelope(
        source="/t", type="case.sla_breached", subject=str(stray),
        data={"complaint_id": str(stray), "at": "2026-11-02T10:00:00Z"},
    )  # fmt: skip
    await publish(
        settings.kafka_bootstrap_servers,
        own_topics,
        [*events[:5], ("handling", poison), *events[5:], *redelivered],
    )
    await consume_until(settings, len(events))
    engine = create_engine(settings.database_url.get_secret_value(), 1)
    async with engine.connect() as conn:
        parked = (await conn.execute(sa.text("SELECT event_id, status FROM parked_events"))).all()
    await engine.dispose()
    assert [tuple(p) for p in parked] == [(poison.id, "parked")]

    live = await report(settings)
    scenario.check_overall(live["overall"])
    grouped = await report(settings, group_by="channel")
    assert [g["value"] for g in grouped["groups"]] == ["hotline", "web"]
    web = grouped["groups"][1]
    assert web["complaints"] == 3 and web["answers"] == 1
    assert web["satisfaction_rate"]["value"] == 1.0 and web["response_rate"]["value"] == 0.5
    by_level = await report(settings, group_by="escalation_level")
    assert {g["value"]: g["complaints"] for g in by_level["groups"]} == {
        "frontline": 3,
        "supervisor": 1,
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=(app := create_app(settings))), base_url="http://t"
    ) as client:
        weeks = await client.get(
            "/reports/trend", params={"interval": "week", "from": "2026-10-27", "to": "2026-11-08"}
        )
        assert [(p["period"], p["answers"], p["complaints"]) for p in weeks.json()["points"]] == [
            ("2026-10-26", 0, 0), ("2026-11-02", 2, 4),
        ]  # fmt: skip
        months = await client.get(
            "/reports/trend", params={"interval": "month", "from": "2026-10-01", "to": "2026-12-31"}
        )
        points = months.json()["points"]
        assert [p["period"] for p in points] == ["2026-10-01", "2026-11-01", "2026-12-01"]
        assert points[0]["satisfaction_rate"]["value"] is None
        assert points[1]["satisfaction_rate"] == {
            "value": 0.5, "target": 0.85, "direction": "min", "meets_target": False
        }  # fmt: skip
        assert points[1]["timely_handling_rate"]["value"] == 2 / 3
    await app.state.runtime.engine.dispose()
    # A whole month reads the monthly histogram: the same times to resolve.
    month = await report(settings, **{"from": "2026-11-01", "to": "2026-11-30"})
    assert month["overall"] == live["overall"]
    before = await snapshot(settings.database_url.get_secret_value())

    applied = await rebuild(settings)
    assert applied == len(events)  # the redelivered copies were skipped by the inbox
    assert await snapshot(settings.database_url.get_secret_value()) == before
    assert await report(settings) == live
    assert await report(settings, group_by="channel") == grouped

    # Reading everything once more (the live consumer after a rebuild) changes nothing.
    await consume_until(settings, len(events))
    assert await snapshot(settings.database_url.get_secret_value()) == before


async def test_answer_api(settings: SatisfactionSettings, own_topics) -> None:
    cid = uuid.uuid4()
    requested = SurveyRequested(
        complaint_id=cid,
        callback_id=uuid.uuid4(),
        survey_token="tok-" + cid.hex,
        customer=ContactCard(id="cust-9", tier=Tier.A),
        requested_at=datetime.now(UTC),
        reason=SurveyReason.SATISFIED,
    )
    old = uuid.uuid4()
    stale = requested.model_copy(
        update={
            "complaint_id": old,
            "survey_token": "tok-" + old.hex,
            "requested_at": datetime.now(UTC) - timedelta(hours=2),
        }
    )
    await publish(
        settings.kafka_bootstrap_servers,
        own_topics,
        [("followup", new_event("/t", str(c.complaint_id), c)) for c in (requested, stale)],
    )
    await consume_until(settings, 2)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = f"/surveys/{requested.survey_token}"
            bad = await client.post(url, json={"level": "happy"})
            assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "level"]
            bad = await client.post(url, json={"level": 5, "factors": ["price"]})
            assert bad.status_code == 422
            assert bad.json()["detail"][0]["loc"] == ["body", "factors"]
            for body in (
                {"level": 5.5}, {"level": None}, {"level": "5.0"}, {"level": 0}, {},
                {"level": 5, "factors": "speed"}, {"level": 5, "extra": 1},
                {"level": 5, "comment": "x" * 5000},
            ):  # fmt: skip
                assert (await client.post(url, json=body)).status_code == 422, body
            for params in ({"from": "2026-13-01"}, {"group_by": "colour"}, {"to": "soon"},
                           {"from": "2020-01-01"}):  # fmt: skip
                answer = await client.get("/reports/summary", params=params)
                assert answer.status_code == 422, params
            assert (
                await client.get("/reports/trend", params={"interval": "year"})
            ).status_code == 422
            assert (await client.post("/surveys/nope", json={"level": 5})).status_code == 404
            body = {"level": "neutral", "factors": ["Speed", "communication"], "comment": "太慢了"}
            ok = await client.post(url, json=body)
            assert ok.status_code == 201, ok.text
            assert ok.json()["score"] == 4 and ok.json()["factors"] == ["speed", "communication"]
            assert (await client.post(url, json={"level": 6})).status_code == 409
            expired = await client.post(f"/surveys/{stale.survey_token}", json={"level": 6})
            assert expired.status_code == 410
            agent = {"complaint_id": str(old), "level": 2, "factors": ["solution"]}
            assert (await client.post("/surveys", json=agent)).status_code == 401
            headers = {"Authorization": "Bearer agent-token"}
            by_phone = await client.post("/surveys", json=agent, headers=headers)
            assert by_phone.status_code == 201, by_phone.text
            assert by_phone.json()["taken_by"] == "frontline-li"  # the person, no credential
            mismatch = agent | {"survey_token": requested.survey_token}
            wrong = await client.post("/surveys", json=mismatch, headers=headers)
            assert wrong.status_code == 422
            assert wrong.json()["detail"][0]["loc"] == ["body", "survey_token"]
            unknown = agent | {"complaint_id": str(uuid.uuid4())}
            assert (await client.post("/surveys", json=unknown, headers=headers)).status_code == 404
            today = datetime.now(UTC).date().isoformat()
            since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
            summary = (
                await client.get("/reports/summary", params={"from": since, "to": today})
            ).json()["overall"]
            assert summary["answers"] == 2
            assert summary["answers_by_level"]["neutral"] == 1
            assert summary["answers_by_level"]["dissatisfied"] == 1
            # the agent used up the stale survey: both requests are answered
            assert summary["surveys_requested"] == 2 and summary["surveys_answered"] == 2
            assert summary["response_rate"]["value"] == 1.0
            assert summary["factors"]["low"][0] == {"factor": "communication", "count": 1,
                                                    "share": 1 / 3}  # fmt: skip
            swapped = await client.get(
                "/reports/summary", params={"from": today, "to": "2020-01-01"}
            )
            assert swapped.status_code == 422 and swapped.json()["detail"][0]["loc"] == [
                "query",
                "to",
            ]
            page = await client.get("/dashboard")
            assert page.status_code == 200 and 'data-chart="trend"' in page.text
        async with app.state.runtime.engine.connect() as conn:
            published = (
                await conn.execute(sa.text("SELECT event_type, payload FROM outbox ORDER BY id"))
            ).all()
        assert [r.event_type for r in published] == ["survey.recorded"] * 2
        assert published[0].payload["data"]["comment"] == "太慢了"
        assert published[1].payload["data"]["survey_token"] == stale.survey_token
    finally:
        await app.state.runtime.engine.dispose()
