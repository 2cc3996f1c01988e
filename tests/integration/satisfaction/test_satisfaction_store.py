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
from shared.events.common import ContactCard, SatisfactionLevel, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.events.versions import SurveyRequestedV1, token_sha256
from shared.messaging.admin import ensure_topics
from shared.runtime import Runtime
from tests.support.consuming import run_until_processed
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
    # settle: let a redelivered duplicate, if any, reach the inbox check
    await run_until_processed(runtime, runner, processed, timeout, settle=0.5)


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


AGENT = {"Authorization": "Bearer agent-token"}
ADMIN = {"Authorization": "Bearer admin-token"}


async def report(settings: SatisfactionSettings, **params: str) -> dict:
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/reports/summary", params=PERIOD | params, headers=AGENT)
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
            "/reports/trend",
            params={"interval": "week", "from": "2026-10-27", "to": "2026-11-08"},
            headers=AGENT,
        )
        assert [(p["period"], p["answers"], p["complaints"]) for p in weeks.json()["points"]] == [
            ("2026-10-26", 0, 0), ("2026-11-02", 2, 4),
        ]  # fmt: skip
        months = await client.get(
            "/reports/trend",
            params={"interval": "month", "from": "2026-10-01", "to": "2026-12-31"},
            headers=AGENT,
        )
        points = months.json()["points"]
        assert [p["period"] for p in points] == ["2026-10-01", "2026-11-01", "2026-12-01"]
        assert points[0]["satisfaction_rate"]["value"] is None
        assert points[1]["satisfaction_rate"] == {
            "value": 0.5, "target": 0.85, "direction": "min", "meets_target": False
        }  # fmt: skip
        assert points[1]["timely_handling_rate"]["value"] == 2 / 3
        assert points[1]["first_contact_resolution_rate"]["value"] == 2 / 3
        quarters = await client.get(
            "/reports/trend",
            params={"interval": "quarter", "from": "2026-08-01", "to": "2026-12-31"},
            headers=AGENT,
        )
        assert [(p["period"], p["answers"]) for p in quarters.json()["points"]] == [
            ("2026-07-01", 0), ("2026-10-01", 2),
        ]  # fmt: skip
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


def survey_pair(
    complaint_id: uuid.UUID, token: str, requested_at: datetime, expires_at: datetime
) -> list[tuple[str, Envelope]]:
    """survey.requested as follow-up publishes it, and survey.invited as the notification
    service would (the contract): the token chosen here, only its hash on the topic."""
    requested = SurveyRequested(
        survey_id=uuid.uuid4(), complaint_id=complaint_id, callback_id=uuid.uuid4(), cycle=1,
        customer=ContactCard(id="cust-9", tier=Tier.A), requested_at=requested_at,
        reason=SurveyReason.SATISFIED,
    )  # fmt: skip
    invited = SurveyInvited(
        survey_id=requested.survey_id, complaint_id=complaint_id,
        token_sha256=token_sha256(token), expires_at=expires_at, at=requested_at,
    )  # fmt: skip
    key = str(complaint_id)
    return [
        ("followup", new_event("/t", key, requested)),
        ("notify", new_event("/t", key, invited)),
    ]


async def test_answer_api(settings: SatisfactionSettings, own_topics) -> None:
    now = datetime.now(UTC)
    cid, old, legacy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    token, stale_token, legacy_token = (f"tok-{c.hex}" for c in (cid, old, legacy))
    # A version-1 request (the token in clear, as follow-up published it before).
    v1 = SurveyRequestedV1(
        complaint_id=legacy, callback_id=uuid.uuid4(), survey_token=legacy_token,
        customer=ContactCard(id="cust-1", tier=Tier.C), requested_at=now,
        reason=SurveyReason.UNREACHABLE,
    )  # fmt: skip
    await publish(
        settings.kafka_bootstrap_servers,
        own_topics,
        [
            *survey_pair(cid, token, now, now + timedelta(hours=1)),
            *survey_pair(old, stale_token, now - timedelta(hours=2), now - timedelta(hours=1)),
            ("followup", new_event("/t", str(legacy), v1)),
        ],
    )
    await consume_until(settings, 5)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = f"/surveys/{token}"
            shown = await client.get(url)
            assert shown.status_code == 200, shown.text
            assert shown.json()["status"] == "open" and shown.json()["cycle"] == 1
            assert (await client.get("/surveys/nope")).status_code == 404
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
            # The reports, the trend, the alerts and the dashboard's figures need staff.
            for path in ("/reports/summary", "/reports/trend", "/alerts", "/dashboard/view"):
                assert (await client.get(path)).status_code == 401, path
            assert (await client.get("/dashboard/view", headers=AGENT)).status_code == 403
            for params in ({"from": "2026-13-01"}, {"group_by": "colour"}, {"to": "soon"},
                           {"from": "2020-01-01"}):  # fmt: skip
                answer = await client.get("/reports/summary", params=params, headers=AGENT)
                assert answer.status_code == 422, params
            year = await client.get("/reports/trend", params={"interval": "year"}, headers=AGENT)
            assert year.status_code == 422
            assert (await client.post("/surveys/nope", json={"level": 5})).status_code == 404

            body = {"level": "neutral", "factors": ["Speed", "communication"], "comment": "太慢了"}
            ok = await client.post(url, json=body)
            assert ok.status_code == 201, ok.text
            assert ok.json()["score"] == 4 and ok.json()["factors"] == ["speed", "communication"]
            assert ok.json()["cycle"] == 1
            first = ok.json()["answer_id"]
            # A second answer for the cycle: 409 naming the first, by the link or by an agent.
            again = await client.post(url, json={"level": 6})
            assert again.status_code == 409
            named = again.json()["detail"]["first_answer"]
            assert named["answer_id"] == first and named["cycle"] == 1 and named["recorded_at"]
            by_agent = await client.post(
                "/surveys", json={"complaint_id": str(cid), "level": 6}, headers=AGENT
            )
            assert by_agent.status_code == 409
            assert by_agent.json()["detail"]["first_answer"]["answer_id"] == first
            assert (await client.get(url)).json()["status"] == "answered"

            assert (await client.get(f"/surveys/{stale_token}")).json()["status"] == "expired"
            expired = await client.post(f"/surveys/{stale_token}", json={"level": 6})
            assert expired.status_code == 410
            agent = {"complaint_id": str(old), "level": 2, "factors": ["solution"]}
            assert (await client.post("/surveys", json=agent)).status_code == 401
            by_phone = await client.post("/surveys", json=agent, headers=AGENT)
            assert by_phone.status_code == 201, by_phone.text
            assert by_phone.json()["taken_by"] == "frontline-li"  # the person, no credential
            twice = await client.post("/surveys", json=agent, headers=AGENT)
            assert twice.status_code == 409
            assert (
                twice.json()["detail"]["first_answer"]["answer_id"]
                == (by_phone.json()["answer_id"])
            )
            mismatch = agent | {"survey_token": token}
            wrong = await client.post("/surveys", json=mismatch, headers=AGENT)
            assert wrong.status_code == 422
            assert wrong.json()["detail"][0]["loc"] == ["body", "survey_token"]
            unknown = agent | {"complaint_id": str(uuid.uuid4())}
            assert (await client.post("/surveys", json=unknown, headers=AGENT)).status_code == 404
            # The version-1 survey answers with its token (only its hash was kept).
            legacy_answer = await client.post(f"/surveys/{legacy_token}", json={"level": 5})
            assert legacy_answer.status_code == 201, legacy_answer.text

            today = datetime.now(UTC).date().isoformat()
            since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
            window = {"from": since, "to": today}

            async def summary() -> dict:
                found = await client.get("/reports/summary", params=window, headers=AGENT)
                assert found.status_code == 200, found.text
                return found.json()["overall"]

            overall = await summary()
            assert overall["answers"] == 3
            assert overall["answers_by_level"]["neutral"] == 1
            assert overall["answers_by_level"]["dissatisfied"] == 1
            assert overall["answers_by_level"]["satisfied"] == 1
            # the agent used up the stale survey: every request is answered
            assert overall["surveys_requested"] == 3 and overall["surveys_answered"] == 3
            assert overall["response_rate"]["value"] == 1.0
            # A share of the answers neutral and below (2), not of the factors named.
            assert overall["factors"]["low"][0] == {"factor": "communication", "count": 1,
                                                    "share": 1 / 2}  # fmt: skip
            swapped = await client.get(
                "/reports/summary", params={"from": today, "to": "2020-01-01"}, headers=AGENT
            )
            assert swapped.status_code == 422
            assert swapped.json()["detail"][0]["loc"] == ["query", "to"]
            shell = await client.get("/dashboard")
            assert shell.status_code == 200 and "<svg" not in shell.text  # no figures
            page = await client.get("/dashboard/view", headers=ADMIN)
            assert page.status_code == 200 and 'data-chart="trend"' in page.text
            assert 'data-chart="cycles"' in page.text

            # A second answer of the cycle arriving on the topic (an old replica, say) is
            # ignored: not kept, not counted.
            late = SurveyRecorded(
                complaint_id=cid, survey_id=None, cycle=1, level=SatisfactionLevel.SATISFIED,
                score=5, factors=[], taken_by="agent:late", recorded_at=datetime.now(UTC),
            )  # fmt: skip
            await publish(
                settings.kafka_bootstrap_servers,
                own_topics,
                [("satisfaction", new_event("/t", str(cid), late))],
            )
            await consume_until(settings, 5 + 3 + 1)
            assert (await summary())["answers"] == 3
            live = await summary()

        async with app.state.runtime.engine.connect() as conn:
            published = (
                await conn.execute(sa.text("SELECT event_type, payload FROM outbox ORDER BY id"))
            ).all()
            stored = [
                (await conn.execute(sa.text(f"SELECT * FROM {table}"))).all()
                for table in ("surveys", "answers", "outbox")
            ]
            hashes = set(
                (await conn.execute(sa.text("SELECT token_sha256 FROM surveys"))).scalars()
            )
        assert [r.event_type for r in published] == ["survey.recorded"] * 3
        assert published[0].payload["data"]["comment"] == "太慢了"
        assert published[0].payload["dataschema"].endswith(":v2")
        assert all(r.payload["data"]["survey_id"] for r in published)  # all three surveys
        # No clear token anywhere in the store: only hashes.
        for token_ in (token, stale_token, legacy_token):
            assert token_ not in repr(stored)
        assert hashes == {token_sha256(t) for t in (token, stale_token, legacy_token)}
    finally:
        await app.state.runtime.engine.dispose()

    # The topics keep a week; the answers are kept for good. A rebuild whose topics have
    # nothing left (a fresh, empty set) still counts every answer.
    empty = Topics(f"test-sat-empty-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(settings.kafka_bootstrap_servers, empty.all(), partitions=1)
    await rebuild(settings.model_copy(update={"kafka_topic_prefix": empty.prefix}))
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            kept = await client.get("/reports/summary", params=window, headers=AGENT)
            assert kept.json()["overall"]["answers"] == 3
            assert kept.json()["overall"]["surveys_answered"] == 3
            # and the token still opens its survey
            assert (await client.get(url)).json()["status"] == "answered"
        # Rebuilt from the real topics: the same figures as live.
        await rebuild(settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            again = await client.get("/reports/summary", params=window, headers=AGENT)
            assert again.json()["overall"] == live
    finally:
        await app.state.runtime.engine.dispose()


async def test_two_answers_for_one_cycle_at_once_one_wins(
    settings: SatisfactionSettings, own_topics
) -> None:
    """The customer's link and an agent on the phone, at the same moment: one answer is kept,
    the other is a 409 naming it, and one is counted."""
    now = datetime.now(UTC)
    cid, token = uuid.uuid4(), f"tok-{uuid.uuid4().hex}"
    await publish(
        settings.kafka_bootstrap_servers,
        own_topics,
        survey_pair(cid, token, now, now + timedelta(hours=1)),
    )
    await consume_until(settings, 2)
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            by_link, by_agent = await asyncio.gather(
                client.post(f"/surveys/{token}", json={"level": 6}),
                client.post("/surveys", json={"complaint_id": str(cid), "level": 1}, headers=AGENT),
            )
            codes = sorted([by_link.status_code, by_agent.status_code])
            assert codes == [201, 409], (by_link.text, by_agent.text)
            won, lost = (by_link, by_agent) if by_link.status_code == 201 else (by_agent, by_link)
            assert lost.json()["detail"]["first_answer"]["answer_id"] == won.json()["answer_id"]
            today = datetime.now(UTC).date().isoformat()
            overall = (
                await client.get(
                    "/reports/summary", params={"from": today, "to": today}, headers=AGENT
                )
            ).json()["overall"]
            assert overall["answers"] == 1 and overall["surveys_answered"] == 1
    finally:
        await app.state.runtime.engine.dispose()
