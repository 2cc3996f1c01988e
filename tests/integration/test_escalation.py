"""The escalation service against the real PostgreSQL: consumers (with the inbox, as the
runner calls them), durable timers fired by two schedulers at once, and the ops API in process
(httpx over ASGI, no background tasks)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from services.escalation.app import create_app
from services.escalation.domain.case import Case
from services.escalation.policy_file import parse_policy
from services.escalation.settings import EscalationSettings
from services.escalation.store import opening
from services.escalation.store import repository as repo
from services.escalation.usecases import SOURCE, TIMER_KINDS, Escalation, contact_card
from shared import timers
from shared.db import create_engine, session_factory
from shared.directory import DEMO_DIRECTORY, load_directory
from shared.events.common import Channel, Mode, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import ComplaintReopened, FollowupCompleted
from shared.events.intake import ComplaintCompleted, ComplaintReceived, Customer
from shared.events.topics import Topics
from shared.messaging import inbox
from shared.timers import Timer, TimerScheduler
from tests.support.identity import as_role, auth_settings

SECONDS_POLICY = """
version: "test-seconds"
levels: [frontline, team_lead, supervisor, customer_relations, department_manager,
         executive_office]
ceiling: {general: department_manager, major: executive_office}
warn_at: [0.5]
factors: {tier: {VIP: 0.5}, severity: {major: 0.5}}
modes:
  on_site:
    start: {general: frontline, major: supervisor}
    climb: {frontline: 0s, team_lead: 1s, supervisor: 1s, customer_relations: 1s,
            department_manager: 1s}
    climb_until: plan
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge, escalate: false}
      respond: {within: 1h, met_by: plan, escalate: false}
  remote:
    start: {general: frontline, major: customer_relations}
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge}
      investigate: {within: 1d, met_by: investigate}
      plan: {within: 2d, met_by: plan}
"""


@pytest.fixture
async def escalation_db(databases):
    url = await databases.create("escalation")
    engine = create_engine(url, pool_size=4)
    yield url, engine
    await engine.dispose()


def received(
    channel: Channel = Channel.HOTLINE,
    severity: Severity = Severity.GENERAL,
    tier: Tier = Tier.C,
    complete: bool = True,
    complaint_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> Envelope:
    cid = complaint_id or uuid.uuid4()
    mode = Mode.ON_SITE if channel == Channel.COUNTER else Mode.REMOTE
    return new_event(
        "/test/intake",
        str(cid),
        ComplaintReceived(
            complaint_id=cid,
            received_at=at or datetime.now(UTC),
            channel=channel,
            mode=mode,
            category="delivery",
            severity=severity,
            severity_reasons=[],
            customer=Customer(name="Wang Fang", phone="+86 139 1111 2222", tier=tier),
            description="late",
            information_complete=complete,
            missing_fields=[] if complete else ["customer.phone|customer.email"],
            acknowledge_by=None,
        ),
    )


async def deliver(escalation: Escalation, event: Envelope, handler) -> bool:
    """As the consumer runner does: the inbox claim and the handler in one transaction."""
    async with escalation.sessions.begin() as session:
        if not await inbox.claim(session, event, "test-topic"):
            return False
        await handler(session, event)
    return True


async def outbox_events(engine, key: str) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT payload FROM outbox WHERE key = :k ORDER BY id"), {"k": key}
        )
        return [r.payload for r in rows]


def escalation_for(engine) -> Escalation:
    return Escalation(
        session_factory(engine),
        Topics("it."),
        parse_policy(SECONDS_POLICY),
        load_directory(DEMO_DIRECTORY),
    )


async def test_a_redelivered_complaint_opens_no_second_case(escalation_db):
    _, engine = escalation_db
    escalation = escalation_for(engine)
    event = received()
    assert await deliver(escalation, event, escalation.on_received)
    assert not await deliver(escalation, event, escalation.on_received)  # same event id
    again = received(complaint_id=uuid.UUID(event.subject))  # republished: a new event id
    assert await deliver(escalation, again, escalation.on_received)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM cases")) == 1
    types = [e["type"] for e in await outbox_events(engine, event.subject)]
    assert types == ["case.opened", "case.assigned"]


async def test_contact_data_completed_starts_the_clocks(escalation_db):
    _, engine = escalation_db
    escalation = escalation_for(engine)
    event = received(complete=False)
    await deliver(escalation, event, escalation.on_received)
    assert await outbox_events(engine, event.subject) == []
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM timers")) == 0
    cid = uuid.UUID(event.subject)
    done = new_event(
        "/test/intake",
        event.subject,
        ComplaintCompleted(
            complaint_id=cid,
            completed_at=datetime.now(UTC),
            customer=Customer(name="Wang Fang", email="w@example.com", tier=Tier.A),
            acknowledge_by=datetime.now(UTC) + timedelta(hours=1),
        ),
    )
    await deliver(escalation, done, escalation.on_completed)
    opened = await outbox_events(engine, event.subject)
    assert [e["type"] for e in opened] == ["case.opened", "case.assigned"]
    assert opened[0]["data"]["tier"] == "A"
    # One timer for the case: at its earliest pending step, the acknowledgement's warning.
    async with escalation.sessions() as session:
        (timer,) = await timers.pending(session, event.subject)
        case = await repo.get_case(session, cid)
    assert case is not None and timer.kind == "case.wake"
    assert timer.due_at == case.clocks["acknowledge"].warnings[0.5] == case.next_wakeup()


async def test_two_schedulers_take_each_ladder_step_exactly_once(escalation_db):
    _, engine = escalation_db
    escalation = escalation_for(engine)
    ids = []
    for _ in range(6):
        event = received(channel=Channel.COUNTER)
        ids.append(event.subject)
        await deliver(escalation, event, escalation.on_received)
    handlers = dict.fromkeys(TIMER_KINDS, escalation.on_timer)
    schedulers = [TimerScheduler(engine, handlers, batch_size=2) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in schedulers]
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            events = [e for key in ids for e in await outbox_events(engine, key)]
            top = [e for e in events if e["data"].get("to_level") == "department_manager"]
            if len(top) >= len(ids):
                break
            assert asyncio.get_running_loop().time() < deadline, "the ladder did not finish"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # nothing more may come
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    for key in ids:
        steps = [
            (e["data"]["from_level"], e["data"]["to_level"])
            for e in await outbox_events(engine, key)
            if e["type"] == "case.escalated"
        ]
        assert steps == [
            ("frontline", "team_lead"),
            ("team_lead", "supervisor"),
            ("supervisor", "customer_relations"),
            ("customer_relations", "department_manager"),
        ]
    async with engine.connect() as conn:
        pending = await conn.scalar(
            sa.text("SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL")
        )
    assert pending == 6  # each case's one wake-up (its two on-site clocks still run)


async def pending_timers(engine, subject: str) -> list[tuple[str, datetime]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT kind, due_at FROM timers WHERE subject = :s "
                    "AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY id"), {"s": subject},
        )  # fmt: skip
        return [(r.kind, r.due_at) for r in rows]


async def test_timers_of_the_earlier_kinds_still_fire_and_leave_the_case_one(escalation_db):
    """A deployment upgraded with cases holding a row per pending step (the earlier kinds),
    two of them due: the first fires, the case takes every due step oldest first, and its
    save cancels the other rows (the due sibling in the same batch is not fired) for the one
    wake-up at the case's next step."""
    _, engine = escalation_db
    escalation = escalation_for(engine)
    event = received(at=datetime.now(UTC) - timedelta(hours=2))  # the acknowledgement: 1 h
    data = ComplaintReceived.model_validate(event.data)
    case, events = Case.receive(
        escalation.policy, data.complaint_id, mode=data.mode, severity=data.severity,
        channel=data.channel, category=data.category, customer=contact_card(data.customer),
        received_at=data.received_at, information_complete=True,
    )  # fmt: skip
    events = case.assign_along(escalation.router, events)
    steps = repo.entries(case.complaint_id, events)
    async with escalation.sessions.begin() as session:
        # Opened (as of its reception: nothing taken yet) ...
        topic = escalation.topics.handling
        await opening.open_cases(session, data.received_at, [case], steps, topic, SOURCE)
        # ... with its timers as the earlier version armed them: one row per pending step.
        await session.execute(sa.text("DELETE FROM timers WHERE subject = :s"),
                              {"s": event.subject})  # fmt: skip
        await timers.arm_many(
            session, [(w.kind, event.subject, w.due_at, w.payload) for w in case.wakeups()]
        )
    before = await pending_timers(engine, event.subject)
    assert len(before) == 6 and "case.wake" not in {kind for kind, _ in before}
    assert sum(due <= datetime.now(UTC) for _, due in before) == 2  # its warning and breach

    scheduler = TimerScheduler(engine, dict.fromkeys(TIMER_KINDS, escalation.on_timer))
    await scheduler.fire_due()

    published = [
        (e["type"], e["data"].get("clock")) for e in await outbox_events(engine, event.subject)
    ]
    assert published == [
        ("case.opened", None), ("case.assigned", None), ("case.sla_warning", "acknowledge"),
        ("case.sla_breached", "acknowledge"), ("case.escalated", "acknowledge"),
        ("case.assigned", None),
    ]  # fmt: skip
    async with escalation.sessions() as session:
        stored = await repo.get_case(session, case.complaint_id)
    assert stored is not None and stored.level == "team_lead"
    assert await pending_timers(engine, event.subject) == [("case.wake", stored.next_wakeup())]
    async with engine.connect() as conn:
        fired = await conn.execute(
            sa.text("SELECT kind, fired_at IS NOT NULL AS fired, cancelled_at IS NOT NULL "
                    "AS cancelled FROM timers WHERE subject = :s AND due_at <= now() "
                    "ORDER BY due_at"), {"s": event.subject},
        )  # fmt: skip
        assert [tuple(r) for r in fired] == [("case.warn", True, False),
                                              ("case.breach", False, True)]  # fmt: skip

    # The fired row once more (a duplicate wake-up): nothing is taken twice, the one stays.
    (wakeup,) = await pending_timers(engine, event.subject)
    async with escalation.sessions.begin() as session:
        row = (await session.execute(sa.text(
            "SELECT id, kind, subject, due_at, payload, attempts FROM timers "
            "WHERE subject = :s AND kind = 'case.warn' AND fired_at IS NOT NULL"),
            {"s": event.subject})).one()  # fmt: skip
        await escalation.on_timer(session, Timer(**row._mapping))
    assert len(await outbox_events(engine, event.subject)) == len(published)
    assert await pending_timers(engine, event.subject) == [wakeup]


@pytest.fixture
async def api(escalation_db, tmp_path):
    url, engine = escalation_db
    policy = tmp_path / "policy.yaml"
    policy.write_text(SECONDS_POLICY)
    settings = EscalationSettings(
        database_url=url,
        policy_file=str(policy),
        **auth_settings(),
        kafka_topic_prefix="it.",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as client:
        yield client, app.state.escalation, engine
    await app.state.runtime.engine.dispose()


def auth(role: str = "agent") -> dict[str, str]:
    return as_role(role)


async def test_ops_api_works_a_case_through_its_states(api):
    client, escalation, engine = api
    event = received(tier=Tier.VIP)
    await deliver(escalation, event, escalation.on_received)
    cid = event.subject
    base = f"/cases/{cid}"

    assert (await client.get(base)).status_code == 401
    r = await client.post(f"{base}/investigate", json={"findings": "x"}, headers=auth())
    assert r.status_code == 409 and "acknowledged" in r.json()["detail"]
    r = await client.post(f"{base}/acknowledge", headers=auth())
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = await client.post(f"{base}/investigate", json={"findngs": "x"}, headers=auth())
    assert r.status_code == 422 and "findngs" in r.text
    r = await client.post(f"{base}/investigate", json={"findings": "lost"}, headers=auth())
    assert r.json()["status"] == "investigating"
    r = await client.post(f"{base}/pause", json={"reason": "waiting for photos"}, headers=auth())
    assert r.json()["status"] == "paused" and r.json()["next_deadline"] is None
    r = await client.post(f"{base}/plan", json={"plan": "resend"}, headers=auth())
    assert r.status_code == 409 and "paused" in r.json()["detail"]
    r = await client.post(f"{base}/resume", headers=auth())
    assert r.json()["status"] == "investigating" and r.json()["paused_seconds"] > 0
    r = await client.post(f"{base}/escalate", json={"reason": "asks for a manager"}, headers=auth())
    assert r.json()["level"] == "team_lead"
    r = await client.post(f"{base}/suspend", json={"outcome": "moved_to_court"}, headers=auth())
    assert r.status_code == 403
    r = await client.post(f"{base}/plan", json={"plan": "resend today"}, headers=auth())
    assert r.json()["status"] == "plan_recorded"
    r = await client.post(
        f"{base}/resolve", json={"resolution": "resent", "compensation": "voucher"}, headers=auth()
    )
    assert r.json()["status"] == "resolved"
    assert {c["state"] for c in r.json()["clocks"]} == {"met"}

    view = (await client.get(base, headers=auth())).json()
    assert [t["type"] for t in view["timeline"]] == [
        "case.opened", "case.assigned", "case.acknowledged", "case.investigated", "case.paused",
        "case.resumed", "case.escalated", "case.assigned", "case.plan_recorded", "case.resolved",
    ]  # fmt: skip
    # The actor is the person (id and name), never a piece of their credential.
    escalated = next(t for t in view["timeline"] if t["type"] == "case.escalated")
    assert escalated["by"] == "frontline-li" and escalated["data"]["by_name"] == "Li Wei"
    assert view["policy_version"] == "test-seconds"
    published = await outbox_events(engine, cid)
    resolved = published[-1]
    assert resolved["type"] == "case.resolved"
    assert resolved["data"]["customer"]["phone"] == "+86 139 1111 2222"

    # The call-back: unhappy reopens (a new round), satisfied closes.
    reopen = new_event(
        "/test/followup",
        cid,
        ComplaintReopened(
            complaint_id=uuid.UUID(cid), callback_id=uuid.uuid4(), at=datetime.now(UTC), by="x"
        ),
    )
    await deliver(escalation, reopen, escalation.on_reopened)
    view = (await client.get(base, headers=auth())).json()
    assert view["status"] == "reopened" and view["round"] == 2
    assert {c["state"] for c in view["clocks"]} == {"running"}
    await client.post(f"{base}/acknowledge", headers=auth())
    await client.post(f"{base}/resolve", json={"resolution": "replaced"}, headers=auth())
    done = new_event(
        "/test/followup",
        cid,
        FollowupCompleted(
            callback_id=uuid.uuid4(), complaint_id=uuid.UUID(cid), at=datetime.now(UTC), by="c"
        ),
    )
    await deliver(escalation, done, escalation.on_followup_done)
    view = (await client.get(base, headers=auth())).json()
    assert (view["status"], view["outcome"]) == ("closed", "resolved")
    r = await client.post(f"{base}/acknowledge", headers=auth())
    assert r.status_code == 409

    stats = await client.get("/stats/sla", headers=auth("supervisor"))
    assert stats.status_code == 200
    per_clock = {r["key"]: r for r in stats.json()["per_clock"]}
    assert per_clock["acknowledge"] == {"key": "acknowledge", "total": 2, "on_time": 2,
                                        "rate": 1.0}  # fmt: skip
    assert (await client.get("/stats/sla", headers=auth())).status_code == 403
    r = await client.get("/stats/sla?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
                         headers=auth("supervisor"))  # fmt: skip
    assert r.status_code == 422 and "from" in r.text


async def test_list_filters_and_cursor_pagination(api):
    client, escalation, _ = api
    now = datetime.now(UTC)
    ids = []
    for i in range(5):
        event = received(
            severity=Severity.MAJOR if i % 2 else Severity.GENERAL,
            at=now - timedelta(minutes=i),
        )
        ids.append(event.subject)
        await deliver(escalation, event, escalation.on_received)
    # One overdue and breached: received two hours ago on a one-hour acknowledge clock.
    late = received(at=now - timedelta(hours=2))
    await deliver(escalation, late, escalation.on_received)

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/cases", params=params, headers=auth())).json()
        seen += [c["complaint_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*ids, late.subject]

    async def find(**params) -> set[str]:
        r = await client.get("/cases", params=params, headers=auth())
        assert r.status_code == 200, r.text
        return {c["complaint_id"] for c in r.json()["items"]}

    assert await find(severity="major") == {ids[1], ids[3]}
    assert await find(level="customer_relations") == {ids[1], ids[3]}
    assert await find(breached="true") == {late.subject}
    assert await find(overdue="true") == {late.subject}
    assert len(await find(overdue="false")) == 5
    assert await find(status="open", tier="C") == {*ids, late.subject} - set()
    r = await client.get("/cases", params={"level": "boss"}, headers=auth())
    assert r.status_code == 422 and "level" in r.text
    r = await client.get("/cases", params={"cursor": "nonsense"}, headers=auth())
    assert r.status_code == 422 and "cursor" in r.text
    assert (await client.get(f"/cases/{uuid.uuid4()}", headers=auth())).status_code == 404


async def test_old_fired_and_cancelled_timers_are_forgotten(escalation_db):
    from shared.timers import TimerScheduler

    _, engine = escalation_db
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO timers (kind, subject, due_at, fired_at, cancelled_at) VALUES "
                "('case.warn', 'a', now() - interval '9 days', now() - interval '8 days', NULL),"
                "('case.warn', 'b', now() - interval '9 days', NULL, now() - interval '8 days'),"
                "('case.warn', 'c', now() - interval '1 day', now() - interval '1 day', NULL),"
                "('case.warn', 'd', now() + interval '1 day', NULL, NULL)"
            )
        )
    assert await TimerScheduler(engine, {}).prune() == 2
    async with engine.connect() as conn:
        left = await conn.scalar(sa.text("SELECT array_agg(subject ORDER BY subject) FROM timers"))
    assert left == ["c", "d"]


async def test_a_supervisor_suspends_and_ends_a_case_agents_may_not(api):
    client, escalation, engine = api
    event = received()
    await deliver(escalation, event, escalation.on_received)
    base = f"/cases/{event.subject}"
    body = {"outcome": "moved_to_court", "note": "the customer sued"}
    assert (await client.post(f"{base}/suspend", json=body, headers=auth())).status_code == 403
    r = await client.post(f"{base}/suspend", json={"outcome": "ended_by_agreement"},
                          headers=auth("supervisor"))  # fmt: skip
    assert r.status_code == 422 and "outcome" in r.text
    r = await client.post(f"{base}/suspend", json=body, headers=auth("supervisor"))
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    assert r.json()["next_deadline"] is None
    r = await client.post(f"{base}/acknowledge", headers=auth())
    assert r.status_code == 409 and "suspended" in r.json()["detail"]
    r = await client.post(f"{base}/end", json={"outcome": "moved_to_court"},
                          headers=auth("supervisor"))  # fmt: skip
    assert (r.json()["status"], r.json()["outcome"]) == ("closed", "moved_to_court")
    types = [e["type"] for e in await outbox_events(engine, event.subject)]
    assert types == ["case.opened", "case.assigned", "case.suspended", "case.closed"]
    async with engine.connect() as conn:
        pending = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM timers WHERE subject = :s "
                "AND fired_at IS NULL AND cancelled_at IS NULL"
            ),
            {"s": event.subject},
        )
    assert pending == 0
