"""The follow-up service's machinery against the real PostgreSQL and Kafka: call-back timers
(due, overdue) with two replicas, redelivered and repeated events, agents' outcomes through
the API, remedial calls after unhappy surveys and retention calls from activity."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from services.followup.app import create_app
from services.followup.domain.tiers import month_of, next_month, previous_month
from services.followup.settings import FollowupSettings
from shared.db import create_engine
from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.common import Channel, ContactCard, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.handling import CaseOutcome, CaseResolved, CaseSuspended
from shared.events.satisfaction import SurveyRecorded
from shared.events.versions import SurveyRecordedV1, legacy_survey_id, token_sha256
from tests.support.kafka import read_until
from tests.support.waiting import eventually

AGENT = {"Authorization": "Bearer it-agent-token"}
SUPERVISOR = {"Authorization": "Bearer it-supervisor-token"}

POLICY = """
version: it-short
callback:
  after_resolution: 1s
  tier_factors: {VIP: 0.5}
  major_factor: 1
  remedial_after: 0.5s
  overdue_after: 1s
attempts: {max: 3, spacing: [1s]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
"""

# Long enough that nothing falls due while a test works a call-back through the API.
SLOW_POLICY = POLICY.replace("after_resolution: 1s", "after_resolution: 1h").replace(
    "remedial_after: 0.5s", "remedial_after: 30m"
)


@pytest.fixture
async def followup_db(databases) -> str:
    return await databases.create("followup")


@asynccontextmanager
async def replica(
    servers, topics, url: str, policy_text: str, group: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A follow-up replica in this process: its relay, consumer and timer scheduler run, and
    the API answers through ASGI."""
    policy = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    policy.write_text(policy_text)
    settings = FollowupSettings(
        database_url=url,
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        kafka_topic_prefix=topics.prefix,
        consumer_group=group,
        policy_file=policy,
        ops_tokens="frontline-li:it-agent-token,duty-wang:it-supervisor-token",
        outbox_poll_seconds=0.2,
        timer_max_sleep_seconds=1,
        db_pool_size=4,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://followup") as client:
            yield client


async def produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()


def resolved(
    complaint_id: uuid.UUID, round: int = 1, tier: Tier = Tier.C, at: datetime | None = None
) -> Envelope:
    values = dict(
        complaint_id=complaint_id,
        at=at or datetime.now(UTC),
        by="agent:test",
        round=round,
        resolution="replaced the washing machine",
        severity=Severity.GENERAL,
        channel=Channel.HOTLINE,
        category="product_quality",
        customer=ContactCard(id=f"cust-{complaint_id.hex[:6]}", name="李娜",
                             phone="+86 138 0013 8000", tier=tier),
        highest_level="frontline",
        clocks_met={"acknowledge": True},
        tier=tier,
        level="frontline",
    )  # fmt: skip
    # Fields the escalation contract may or may not carry yet.
    data = CaseResolved(**{k: v for k, v in values.items() if k in CaseResolved.model_fields})
    return new_event("/test/escalation", str(complaint_id), data)


def activity(customer_id: str, at: datetime, kind=ActivityKind.VISIT) -> Envelope:
    return new_event(
        "/test/tills",
        customer_id,
        CustomerActivity(
            customer=ActivityCustomer(id=customer_id, name="王芳", phone="13900000000"),
            kind=kind,
            at=at,
        ),
    )


async def outbox_types(url: str, keys: set[str]) -> Counter[tuple[str, str]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT key, event_type FROM outbox"))
            return Counter((k, t) for k, t in rows.all() if k in keys)
    finally:
        await engine.dispose()


async def callbacks_of(client: httpx.AsyncClient, complaint_id: uuid.UUID) -> list[dict]:
    answer = await client.get(
        "/callbacks", params={"complaint_id": str(complaint_id)}, headers=AGENT
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_two_replicas_fire_due_and_overdue_once_despite_redelivered_events(
    servers, topics, followup_db, tmp_path
):
    complaints = [uuid.uuid4() for _ in range(12)]
    events = [
        resolved(c, tier=Tier.VIP if i % 3 == 0 else Tier.C) for i, c in enumerate(complaints)
    ]
    # Each event delivered twice (same id: the inbox drops it), and the same resolution
    # announced again under a new id (the call-back's origin drops it).
    repeats = [resolved(c, at=datetime.now(UTC)) for c in complaints[:4]]
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    keys = {str(c) for c in complaints}
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(
                replica(servers, topics, followup_db, POLICY, group, tmp_path)
            )
        await produce(servers.kafka_bootstrap, topics.handling, events + events + repeats)

        async def all_overdue():
            found = await outbox_types(followup_db, keys)
            return (
                found
                if sum(n for (_, t), n in found.items() if t == "followup.overdue") >= 12
                else None
            )

        await eventually(all_overdue)
        await asyncio.sleep(1.5)  # time for any duplicate to show up
    found = await outbox_types(followup_db, keys)
    for key in keys:
        assert found[(key, "followup.scheduled")] == 1
        assert found[(key, "followup.due")] == 1
        assert found[(key, "followup.overdue")] == 1
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: sum(r.value["type"] == "followup.overdue" for r in kept) >= 12,
        lambda r: r.key in keys,
    )
    scheduled = [r.value["data"] for r in published if r.value["type"] == "followup.scheduled"]
    vip = [s for s in scheduled if s["customer"]["tier"] == "VIP"]
    assert vip and all(s["kind"] == "resolution" and s["round"] == 1 for s in scheduled)


async def test_a_restarted_replica_fires_what_fell_due_while_it_was_down(
    servers, topics, followup_db, tmp_path
):
    complaint = uuid.uuid4()
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with replica(servers, topics, followup_db, POLICY, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.handling, [resolved(complaint)])
        await eventually(lambda: callbacks_of(client, complaint), interval=0.05)
    await asyncio.sleep(2.5)  # down while the call-back falls due and then overdue
    async with replica(servers, topics, followup_db, POLICY, group, tmp_path) as client:

        async def overdue():
            (found,) = await callbacks_of(client, complaint)
            return found if found["state"] == "overdue" else None

        late = await eventually(overdue)
        assert late["went_overdue_at"] is not None

        async def resolution_sla() -> dict:
            answer = await client.get("/stats/sla", headers=AGENT)
            assert answer.status_code == 200, answer.text
            return next(k for k in answer.json()["kinds"] if k["kind"] == "resolution")

        before = await resolution_sla()
        assert before["overdue_now"] >= 1
        done = await client.post(
            f"/callbacks/{late['callback_id']}/outcome",
            json={"reached": True, "satisfied": True},
            headers=AGENT,
        )
        assert done.status_code == 200
        after = await resolution_sla()
        # Called, but late: one more closed, none more on time.
        assert after["closed"] - before["closed"] == 1
        assert after["closed_on_time"] == before["closed_on_time"]
        naive = await client.get("/stats/sla?since=2026-01-01T00:00:00", headers=AGENT)
        assert naive.status_code == 422
    found = await outbox_types(followup_db, {str(complaint)})
    assert (
        found[(str(complaint), "followup.due")] == found[(str(complaint), "followup.overdue")] == 1
    )


async def test_agents_work_call_backs_through_the_api(servers, topics, followup_db, tmp_path):
    happy, unhappy, unreachable = (uuid.uuid4() for _ in range(3))
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with replica(servers, topics, followup_db, SLOW_POLICY, group, tmp_path) as client:
        await produce(
            servers.kafka_bootstrap,
            topics.handling,
            [resolved(happy), resolved(unhappy, round=2), resolved(unreachable, tier=Tier.A)],
        )
        ids = {}
        for complaint in (happy, unhappy, unreachable):
            (callback,) = await eventually(lambda c=complaint: callbacks_of(client, c))
            ids[complaint] = callback["callback_id"]

        # Authentication, validation (422 naming the field), unknown ids.
        path = f"/callbacks/{ids[happy]}/outcome"
        assert (await client.post(path, json={"reached": True})).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await client.post(path, json={"reached": True}, headers=wrong)).status_code == 401
        missing = await client.post(path, json={"reached": True}, headers=AGENT)
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "satisfied"]
        odd = await client.post(path, json={"reached": False, "satisfied": True}, headers=AGENT)
        assert odd.status_code == 422 and odd.json()["detail"][0]["loc"] == ["body", "satisfied"]
        unknown = await client.post(
            f"/callbacks/{uuid.uuid4()}/outcome", json={"reached": False}, headers=AGENT
        )
        assert unknown.status_code == 404
        assert (await client.get("/callbacks?cursor=garbage", headers=AGENT)).status_code == 422

        # Satisfied, posted twice at once: one wins, one survey with a token.
        body = {"reached": True, "satisfied": True, "customer_words": "很满意，谢谢"}
        first, second = await asyncio.gather(
            client.post(path, json=body, headers=AGENT),
            client.post(path, json=body, headers=SUPERVISOR),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        done = (first if first.status_code == 200 else second).json()
        assert (done["state"], done["outcome"]) == ("completed", "satisfied")

        # Not satisfied: the complaint is reopened.
        answer = await client.post(
            f"/callbacks/{ids[unhappy]}/outcome",
            json={"reached": True, "satisfied": False, "customer_words": "还是漏水"},
            headers=AGENT,
        )
        assert answer.json()["state"] == "reopened"

        # Rescheduled at the customer's request, then three unanswered calls.
        path = f"/callbacks/{ids[unreachable]}/reschedule"
        past = await client.post(path, json={"due_at": "2020-01-01T10:00:00Z"}, headers=AGENT)
        assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "due_at"]
        later = datetime.now(UTC) + timedelta(hours=5)
        moved = await client.post(
            path, json={"due_at": later.isoformat(), "reason": "in a meeting"}, headers=AGENT
        )
        assert moved.status_code == 200 and moved.json()["attempts"] == 0
        states = []
        for _ in range(3):
            answer = await client.post(
                f"/callbacks/{ids[unreachable]}/outcome", json={"reached": False}, headers=AGENT
            )
            states.append((answer.json()["state"], answer.json()["attempts"]))
        assert states == [("scheduled", 1), ("scheduled", 2), ("unreachable", 3)]
        closed = await client.post(
            f"/callbacks/{ids[unreachable]}/outcome", json={"reached": False}, headers=AGENT
        )
        assert closed.status_code == 409
        detail = (await client.get(f"/callbacks/{ids[unreachable]}", headers=AGENT)).json()
        assert [h["reached"] for h in detail["history"]] == [False, False, False]

        # The work queue: filters and cursor pagination.
        page = await client.get(
            "/callbacks", params={"state": ["completed", "reopened"], "limit": 1}, headers=AGENT
        )
        items = page.json()["items"]
        nxt = await client.get(
            "/callbacks",
            params={"state": ["completed", "reopened"], "limit": 1,
                    "cursor": page.json()["next_cursor"]},
            headers=AGENT,
        )  # fmt: skip
        assert {items[0]["complaint_id"], nxt.json()["items"][0]["complaint_id"]} <= {
            str(happy), str(unhappy)
        } | {i["complaint_id"] for i in items}  # fmt: skip
        tier_a = await client.get("/callbacks", params={"tier": "A"}, headers=AGENT)
        assert {i["complaint_id"] for i in tier_a.json()["items"]} == {str(unreachable)}

    keys = {str(happy), str(unhappy), str(unreachable)}
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: (
            sum(r.value["type"] == "survey.requested" for r in kept) >= 2
            and any(r.value["type"] == "complaint.reopened" for r in kept)
        ),
        lambda r: r.key in keys,
    )
    by_key: dict[str, list[str]] = {}
    for r in published:
        by_key.setdefault(r.key, []).append(r.value["type"])
    assert by_key[str(happy)] == ["followup.scheduled", "followup.completed", "survey.requested"]
    assert by_key[str(unhappy)] == ["followup.scheduled", "complaint.reopened"]
    assert by_key[str(unreachable)] == [
        "followup.scheduled", "followup.rescheduled", "followup.attempt_failed",
        "followup.attempt_failed", "followup.unreachable", "survey.requested",
    ]  # fmt: skip
    reopened = next(r for r in published if r.value["type"] == "complaint.reopened")
    assert reopened.value["data"]["round"] == 2
    assert reopened.value["data"]["customer_words"] == "还是漏水"
    requested = [r.value for r in published if r.value["type"] == "survey.requested"]
    surveys = [r["data"] for r in requested]
    assert {s["reason"] for s in surveys} == {"satisfied", "unreachable"}
    # Version 2: the survey's opaque id and the cycle it measures; no token travels.
    assert {r["dataschema"].rsplit(":", 1)[1] for r in requested} == {"v2"}
    assert all("survey_token" not in s for s in surveys)
    assert {s["cycle"] for s in surveys} == {1}  # both resolved round 1
    engine = create_engine(followup_db, pool_size=1)
    async with engine.connect() as conn:
        stored = set(
            (await conn.execute(sa.text("SELECT survey_id::text FROM survey_requests"))).scalars()
        )
        outbox = (
            await conn.execute(
                sa.text("SELECT payload::text FROM outbox WHERE event_type = 'survey.requested'")
            )
        ).scalars()
        assert all("token" not in payload for payload in outbox)
    await engine.dispose()
    assert stored == {s["survey_id"] for s in surveys}


async def test_unhappy_survey_answers_bring_a_sooner_remedial_call(
    servers, topics, followup_db, tmp_path
):
    complaint, content = uuid.uuid4(), uuid.uuid4()
    group = f"followup-it-{uuid.uuid4().hex[:6]}"

    def answer(complaint_id: uuid.UUID, level: SatisfactionLevel) -> Envelope:
        return new_event(
            "/test/satisfaction",
            str(complaint_id),
            SurveyRecorded(
                complaint_id=complaint_id,
                survey_id=uuid.uuid5(complaint_id, "survey"),
                cycle=1,
                level=level,
                score=level.score,
                factors=["waiting_time"],
                taken_by="customer",
                recorded_at=datetime.now(UTC),
                customer_id="cust-9",
                tier=Tier.B,
            ),
        )

    async with replica(servers, topics, followup_db, SLOW_POLICY, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.handling, [resolved(complaint)])
        (first,) = await eventually(lambda: callbacks_of(client, complaint))
        neutral = answer(complaint, SatisfactionLevel.NEUTRAL)
        await produce(
            servers.kafka_bootstrap,
            topics.satisfaction,
            [neutral, neutral, answer(content, SatisfactionLevel.SATISFIED)],
        )

        async def two():
            found = await callbacks_of(client, complaint)
            return found if len(found) == 2 else None

        found = await eventually(two)
        await asyncio.sleep(1)
        assert await callbacks_of(client, content) == []
        # Both calls reach a satisfied customer: one survey for resolution cycle 1, none
        # after the remedial call (satisfaction is measured once per cycle).
        remedial = next(c for c in found if c["kind"] == "remedial")
        assert remedial["round"] == 1
        for call in (first, remedial):
            done = await client.post(
                f"/callbacks/{call['callback_id']}/outcome",
                json={"reached": True, "satisfied": True},
                headers=AGENT,
            )
            assert done.status_code == 200 and done.json()["state"] == "completed", done.text
        # A version-1 answer (token in clear) still brings its remedial call.
        legacy = uuid.uuid4()
        await produce(
            servers.kafka_bootstrap,
            topics.satisfaction,
            [
                new_event(
                    "/test/satisfaction-v1",
                    str(legacy),
                    SurveyRecordedV1(
                        complaint_id=legacy, survey_token="legacy-token", level="resigned",
                        score=3, factors=[], taken_by="customer",
                        recorded_at=datetime.now(UTC),
                    ),
                )
            ],
        )  # fmt: skip
        await eventually(lambda: callbacks_of(client, legacy))
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: [r.value["type"] for r in kept].count("followup.completed") >= 2,
        lambda r: r.key == str(complaint),
    )
    await asyncio.sleep(1)
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= len(published),
        lambda r: r.key == str(complaint),
    )
    surveys = [r.value["data"] for r in published if r.value["type"] == "survey.requested"]
    assert len(surveys) == 1 and surveys[0]["cycle"] == 1
    engine = create_engine(followup_db, pool_size=1)
    async with engine.connect() as conn:
        origins = set(
            (
                await conn.execute(sa.text("SELECT origin FROM callbacks WHERE kind = 'remedial'"))
            ).scalars()
        )
    await engine.dispose()
    # The remedial call names the survey by its id, never by a token.
    assert f"survey:{complaint}:{uuid.uuid5(complaint, 'survey')}" in origins
    legacy_id = legacy_survey_id(token_sha256("legacy-token"))
    assert f"survey:{legacy}:{legacy_id}" in origins
    assert not any("legacy-token" in o for o in origins)
    assert remedial["customer"]["name"] == "李娜"  # the contact card of the earlier call-back
    assert remedial["tier"] == "B"
    assert "neutral" in remedial["reason"]
    sooner = datetime.fromisoformat(remedial["due_at"]) - datetime.fromisoformat(
        remedial["created_at"]
    )
    normal = datetime.fromisoformat(first["due_at"]) - datetime.fromisoformat(first["created_at"])
    assert sooner < normal


async def test_activity_drops_make_one_retention_call_each_with_two_replicas(
    servers, topics, followup_db, tmp_path
):
    now = datetime.now(UTC)
    this_month = month_of(now, UTC_ZONE)
    last, before = previous_month(this_month), previous_month(previous_month(this_month))
    dropper, leaver = f"cust-a2b-{uuid.uuid4().hex[:6]}", f"cust-gone-{uuid.uuid4().hex[:6]}"

    def days(month: date, n: int, customer: str) -> list[Envelope]:
        return [
            activity(customer, datetime(month.year, month.month, d + 1, 10, tzinfo=UTC),
                     ActivityKind.VISIT if d % 2 else ActivityKind.PURCHASE)
            for d in range(n)
        ]  # fmt: skip

    # A (12 visits) the month before last, B (7) last month: one drop A -> B. A visit and a
    # purchase on the same day count once; every event is delivered twice.
    events = days(before, 12, dropper) + days(last, 7, dropper)
    events += [activity(dropper, datetime(last.year, last.month, 1, 18, tzinfo=UTC))]
    # C the month before last, then gone: D last month, one drop C -> D.
    events += days(before, 3, leaver)
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with AsyncExitStack() as stack:  # two replicas share the events and the reviews
        client, _ = [
            await stack.enter_async_context(
                replica(servers, topics, followup_db, SLOW_POLICY, group, tmp_path)
            )
            for _ in range(2)
        ]
        await produce(servers.kafka_bootstrap, topics.activity, events + events)

        async def retention_calls():
            page = await client.get("/callbacks", params={"kind": "retention"}, headers=AGENT)
            mine = [c for c in page.json()["items"] if c["customer"]["id"] in {dropper, leaver}]
            return mine if len(mine) >= 2 else None

        calls = await eventually(retention_calls)
        await asyncio.sleep(2.5)  # past the review grace: nothing more may come
        assert len(await retention_calls()) == 2
        tiers = (await client.get(f"/customers/{dropper}/tiers", headers=AGENT)).json()
    by_customer = {c["customer"]["id"]: c for c in calls}
    drop = by_customer[dropper]
    assert drop["details"]["tier_change"] == {
        "from_tier": "A", "to_tier": "B", "month": last.strftime("%Y-%m"),
        "visits": 7, "previous_visits": 12,
    }  # fmt: skip
    assert drop["reason"].startswith("tier fell from A to B")
    assert drop["tier"] == "B" and drop["complaint_id"] is None
    gone = by_customer[leaver]["details"]["tier_change"]
    assert (gone["from_tier"], gone["to_tier"], gone["visits"]) == ("C", "D", 0)
    assert [(m["month"], m["tier"]) for m in tiers["months"]][:2] == [
        (before.strftime("%Y-%m"), "A"), (last.strftime("%Y-%m"), "B")
    ]  # fmt: skip
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 2,
        lambda r: r.key in {dropper, leaver} and r.value["type"] == "followup.scheduled",
    )
    assert {r.value["data"]["kind"] for r in published} == {"retention"}
    assert next_month(last) == this_month


UTC_ZONE = __import__("zoneinfo").ZoneInfo("UTC")


async def test_a_later_resolution_replaces_an_open_call_back_and_a_court_case_cancels_it(
    servers, topics, followup_db, tmp_path
):
    complaint = uuid.uuid4()
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    suspended = new_event(
        "/test/escalation",
        str(complaint),
        CaseSuspended(
            complaint_id=complaint,
            at=datetime.now(UTC),
            by="supervisor:test",
            reason=CaseOutcome.MOVED_TO_COURT,
        ),
    )
    async with replica(servers, topics, followup_db, SLOW_POLICY, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.handling, [resolved(complaint)])
        await eventually(lambda: callbacks_of(client, complaint))
        await produce(servers.kafka_bootstrap, topics.handling, [resolved(complaint, round=2)])

        async def replaced():
            found = {c["round"]: c["state"] for c in await callbacks_of(client, complaint)}
            return found if found == {1: "cancelled", 2: "scheduled"} else None

        await eventually(replaced)
        await produce(servers.kafka_bootstrap, topics.handling, [suspended])

        async def all_cancelled():
            found = await callbacks_of(client, complaint)
            return found if {c["state"] for c in found} == {"cancelled"} else None

        await eventually(all_cancelled)
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: sum(r.value["type"] == "followup.cancelled" for r in kept) >= 2,
        lambda r: r.key == str(complaint),
    )
    reasons = [
        r.value["data"]["reason"] for r in published if r.value["type"] == "followup.cancelled"
    ]
    assert reasons == ["replaced by the call-back after round 2", "the case ended: moved_to_court"]


async def test_a_live_activity_feed_keeps_one_review_timer(servers, topics, followup_db, tmp_path):
    """Activity during the month does not churn the timers: one review, at the month's end."""
    customer = f"cust-live-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    events = [activity(customer, now - timedelta(minutes=i)) for i in range(6)]
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with replica(servers, topics, followup_db, SLOW_POLICY, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.activity, events)

        async def counted():
            answer = await client.get(f"/customers/{customer}/tiers", headers=AGENT)
            return answer.json() if answer.status_code == 200 else None

        await eventually(counted)
        engine = create_engine(followup_db, pool_size=1)

        async def all_applied():
            async with engine.connect() as conn:
                applied = await conn.scalar(
                    sa.text("SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)"),
                    {"ids": [e.id for e in events]},
                )
                return applied == len(events)

        await eventually(all_applied)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT due_at, cancelled_at, payload->>'month' FROM timers "
                        "WHERE subject = :s"
                    ),
                    {"s": f"customer:{customer}"},
                )
            ).all()
        await engine.dispose()
    month = month_of(now, UTC_ZONE)
    assert len(rows) == 1 and rows[0][1] is None and rows[0][2] == month.isoformat()
    assert rows[0][0] == datetime(
        next_month(month).year, next_month(month).month, 1, tzinfo=UTC
    ) + timedelta(seconds=1)
