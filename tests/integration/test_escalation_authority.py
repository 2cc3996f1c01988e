"""Authority through the ops API against the real PostgreSQL, on the bundled policy: abuse
flags and the refusal of service (roles, states, the read model, the events), a long pause's
reminder as a durable timer, bad compensation amounts, and erasure of what staff wrote."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from services.escalation.app import create_app
from services.escalation.erasure import erase_case
from services.escalation.settings import EscalationSettings
from services.escalation.store import repository as repo
from shared import timers
from shared.db import create_engine
from tests.integration.test_escalation import deliver, outbox_events, received
from tests.support.identity import as_role, auth_settings

AGENT, LEAD, SUPERVISOR = as_role("agent"), as_role("team_lead"), as_role("supervisor")


@pytest.fixture
async def api(escalation_db):
    url, engine = escalation_db
    settings = EscalationSettings(database_url=url, **auth_settings(), kafka_topic_prefix="it.")
    app = create_app(settings)  # the bundled policy
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as client:
        yield client, app.state.escalation, engine
    await app.state.runtime.engine.dispose()


@pytest.fixture
async def escalation_db(databases):
    url = await databases.create("escalation")
    engine = create_engine(url, pool_size=4)
    yield url, engine
    await engine.dispose()


async def opened(client, escalation) -> str:
    event = received()
    await deliver(escalation, event, escalation.on_received)
    return event.subject


async def test_abuse_is_flagged_by_anyone_and_service_refused_and_lifted_by_a_supervisor(api):
    client, escalation, engine = api
    cid = await opened(client, escalation)
    base = f"/cases/{cid}"
    assert (await client.post(f"{base}/acknowledge", headers=AGENT)).status_code == 200

    unflagged = await client.post(f"{base}/refuse-service", json={"reason": "rude"},
                                  headers=SUPERVISOR)  # fmt: skip
    assert unflagged.status_code == 409 and "flag it first" in unflagged.json()["detail"]
    flagged = await client.post(f"{base}/flag-abuse", json={"note": "threw a cup at Li"},
                                headers=AGENT)  # fmt: skip
    assert flagged.status_code == 200, flagged.text
    (flag,) = flagged.json()["abuse_flags"]
    assert (flag["by"], flag["by_name"], flag["note"]) == ("frontline-li", "Li Wei",
                                                           "threw a cup at Li")  # fmt: skip
    low = await client.post(f"{base}/refuse-service", json={"reason": "art. 8"}, headers=LEAD)
    assert low.status_code == 403 and low.json()["detail"] == (
        "refusing service needs the supervisor role"
    )
    refused = await client.post(f"{base}/refuse-service", json={"reason": "art. 8"},
                                headers=SUPERVISOR)  # fmt: skip
    assert refused.status_code == 200, refused.text
    case = refused.json()
    assert case["status"] == "service_refused" and case["next_deadline"] is None
    assert case["service_refusal"]["by"] == "duty-wang"
    assert case["service_refusal"]["reason"] == "art. 8"
    listed = await client.get("/cases", params={"status": "service_refused"}, headers=AGENT)
    assert [c["complaint_id"] for c in listed.json()["items"]] == [cid]
    blocked = await client.post(f"{base}/investigate", json={"findings": "x"}, headers=AGENT)
    assert blocked.status_code == 409 and "service_refused" in blocked.json()["detail"]

    lifted = await client.post(f"{base}/lift-refusal", json={"reason": "apologised"},
                               headers=SUPERVISOR)  # fmt: skip
    assert lifted.status_code == 200 and lifted.json()["status"] == "acknowledged"
    assert lifted.json()["service_refusal"] is None and lifted.json()["paused_seconds"] > 0
    again = await client.post(f"{base}/lift-refusal", json={"reason": "x"}, headers=SUPERVISOR)
    assert again.status_code == 409

    events = {e["type"]: e["data"] for e in await outbox_events(engine, cid)}
    assert events["case.abuse_flagged"]["note"] == "threw a cup at Li"
    assert events["case.service_refused"]["flags"] == 1
    assert events["case.service_refused"]["by_name"] == "Wang Fang"
    assert "deadlines" in events["case.service_refusal_lifted"]

    # Erasure leaves who decided what, and when, and not what they wrote.
    async with escalation.sessions.begin() as session:
        await erase_case(session, uuid.UUID(cid), "erased-1")
    view = (await client.get(base, headers=AGENT)).json()
    assert view["abuse_flags"][0]["by"] == "frontline-li"
    assert view["abuse_flags"][0]["note"] != "threw a cup at Li"
    timeline = {t["type"]: t["data"] for t in view["timeline"]}
    assert timeline["case.abuse_flagged"]["note"] != "threw a cup at Li"


async def test_a_long_pause_arms_a_durable_reminder_that_reaches_the_owner(api):
    client, escalation, engine = api
    cid = await opened(client, escalation)
    paused = await client.post(f"/cases/{cid}/pause", json={"reason": "waiting for photos"},
                               headers=AGENT)  # fmt: skip
    assert paused.status_code == 200
    async with escalation.sessions() as session:
        # The case's one timer: while paused, at the reminder.
        (reminder,) = await timers.pending(session, cid)
        case = await repo.get_case(session, uuid.UUID(cid))
    assert case is not None and reminder.kind == "case.wake"
    assert reminder.due_at == case.pause_remind_at
    async with escalation.sessions.begin() as session:
        await escalation.on_timer(session, reminder)  # as the scheduler does when it is due
    (overdue,) = [e["data"] for e in await outbox_events(engine, cid)
                  if e["type"] == "case.pause_overdue"]  # fmt: skip
    assert overdue["reminder"] == 1 and overdue["team"] == "remote-desk"
    view = (await client.get(f"/cases/{cid}", headers=AGENT)).json()
    assert view["pause_reminders"] == 1 and view["status"] == "paused"
    async with escalation.sessions() as session:
        # (the scheduler marks the fired one fired; here it was called by hand)
        (following,) = [t for t in await timers.pending(session, cid) if t.id != reminder.id]
        case = await repo.get_case(session, uuid.UUID(cid))
    assert case is not None and following.due_at == case.pause_remind_at > reminder.due_at
    await client.post(f"/cases/{cid}/resume", headers=AGENT)
    async with escalation.sessions() as session:
        # Resumed: the reminder is gone, the one timer is at the clocks' next step.
        pending = [t for t in await timers.pending(session, cid) if t.id != reminder.id]
        case = await repo.get_case(session, uuid.UUID(cid))
    assert case is not None and [(t.kind, t.due_at) for t in pending] == [
        ("case.wake", case.next_wakeup())
    ]
    assert case.next_wakeup() != following.due_at
    async with engine.connect() as conn:
        stored = await conn.scalar(
            sa.text("SELECT authority FROM cases WHERE complaint_id = :c"), {"c": cid}
        )
    assert stored["pause_reminders"] == 1 and stored["pause_remind_at"] is None


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ({"amount": "abc", "currency": "CNY"}, ["body", "compensation_amount", "amount"]),
        ({"amount": "1.234", "currency": "CNY"}, ["body", "compensation_amount", "amount"]),
        ({"amount": "-5", "currency": "CNY"}, ["body", "compensation_amount", "amount"]),
        ({"amount": "5", "currency": "cny"}, ["body", "compensation_amount", "currency"]),
        ({"amount": "5", "currency": "EUR"}, ["body", "compensation_amount", "currency"]),
    ],
)
async def test_a_bad_compensation_amount_is_a_422_naming_the_field(api, amount, problem):
    client, escalation, _ = api
    cid = await opened(client, escalation)
    await client.post(f"/cases/{cid}/acknowledge", headers=AGENT)
    answer = await client.post(
        f"/cases/{cid}/resolve",
        json={"resolution": "done", "compensation_amount": amount},
        headers=AGENT,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == problem
    assert (await client.get(f"/cases/{cid}", headers=AGENT)).json()["status"] == "acknowledged"
