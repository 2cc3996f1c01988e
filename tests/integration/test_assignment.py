"""Teams and assignees through the ops APIs, in process against the real PostgreSQL: a case
routed to its store's team, taken, handed over and forwarded (with the events in the outbox),
the queues by team and by person, the directory read API, and call-backs taken from their
team's queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.escalation.app import create_app as escalation_app
from services.escalation.settings import EscalationSettings
from services.followup import callbacks
from services.followup.app import create_app as followup_app
from services.followup.settings import FollowupSettings
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier
from shared.events.envelope import new_event
from shared.events.followup import CallbackKind
from shared.events.intake import ComplaintReceived, Customer, Subject, SubjectKind
from tests.integration.test_escalation import deliver, outbox_events
from tests.support.identity import auth_settings, bearer

LI, SUN, ZHANG, WANG = (bearer(p) for p in ("frontline-li", "frontline-sun", "lead-zhang",
                                              "duty-wang"))  # fmt: skip


@pytest.fixture
async def escalation(databases):
    url = await databases.create("escalation")
    app = escalation_app(
        EscalationSettings(database_url=url, kafka_topic_prefix="it.", **auth_settings())
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as client:
        yield client, app.state.escalation, app.state.runtime.engine
    await app.state.runtime.engine.dispose()


def at_the_counter(site: str | None, category: str = "product_quality"):
    cid = uuid.uuid4()
    subject = Subject(kind=SubjectKind.SITE, reference=site) if site else None
    return new_event(
        "/test/intake",
        str(cid),
        ComplaintReceived(
            complaint_id=cid,
            received_at=datetime.now(UTC),
            channel=Channel.COUNTER,
            mode=Mode.ON_SITE,
            category=category,
            severity=Severity.GENERAL,
            severity_reasons=[],
            customer=Customer(name="Zhou Jie", phone="+86 139 2222 3333", tier=Tier.C),
            description="the fridge door does not close",
            subject=subject,
            information_complete=True,
            acknowledge_by=None,
        ),
    )


async def ids(client: httpx.AsyncClient, headers, **params) -> set[str]:
    answer = await client.get("/cases", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return {c["complaint_id"] for c in answer.json()["items"]}


async def test_a_case_is_routed_taken_handed_over_and_forwarded(escalation):
    client, service, engine = escalation
    event = at_the_counter("store-1")
    other = at_the_counter("store-2")
    for e in (event, other):
        await deliver(service, e, service.on_received)
    cid = event.subject
    base = f"/cases/{cid}"

    # On-site: the front line reports to the team lead at once.
    case = (await client.get(base, headers=LI)).json()
    assert (case["site"], case["team"], case["assignee"]) == ("store-1", "store1-team-leads", None)
    assert await ids(client, LI, team="store1-team-leads") == {cid}
    assert await ids(client, LI, team="store2-team-leads") == {other.subject}
    # Zhang leads both stores' teams; Li is in store 1's front line only.
    assert await ids(client, ZHANG, team="mine") == {cid, other.subject}
    assert await ids(client, LI, team="mine") == set()
    bad = await client.get("/cases", params={"team": "nope"}, headers=LI)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "team"]

    # Taken by the team lead: theirs, in their own queue and nobody else's.
    taken = await client.post(f"{base}/take", headers=ZHANG)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["assignee"], taken.json()["assignee_name"]) == ("lead-zhang", "Zhang Min")
    assert await ids(client, ZHANG, assignee="me") == {cid}
    assert await ids(client, LI, assignee="me") == set()
    assert (await client.post(f"{base}/take", headers=LI)).status_code == 409
    assert (await client.post(f"{base}/take", headers=ZHANG)).status_code == 409

    # Handed over, with the reason; a target must be a person or team of the directory.
    for body, field in [
        ({"to_person": "nobody", "reason": "x"}, "to_person"),
        ({"to_team": "nowhere", "reason": "x"}, "to_team"),
        ({"reason": "x"}, None),
        ({"to_person": "frontline-li", "to_team": "store1-duty", "reason": "x"}, None),
        ({"to_person": "frontline-li"}, "reason"),
    ]:
        answer = await client.post(f"{base}/handover", json=body, headers=ZHANG)
        assert answer.status_code == 422, (body, answer.text)
        if field:
            assert answer.json()["detail"][0]["loc"][-1] == field
    sneaky = {"to_person": "frontline-sun", "reason": "mine"}
    assert (await client.post(f"{base}/handover", json=sneaky, headers=SUN)).status_code == 409
    body = {"to_person": "frontline-li", "reason": "Li knows the customer"}
    handed = await client.post(f"{base}/handover", json=body, headers=ZHANG)
    assert handed.status_code == 200 and handed.json()["assignee"] == "frontline-li"

    # Forwarded to the department responsible, with the time the customer hears back.
    answer_by = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
    for body, field in [
        ({"to_team": "store1-duty", "reason": "x"}, "to_team"),  # not a department
        ({"to_team": "dept-furniture", "reason": "x", "answer_by": "2020-01-01T00:00:00Z"},
         "answer_by"),
        ({"to_team": "dept-furniture", "reason": "x", "answer_by": "2030-01-01T00:00:00"},
         "answer_by"),  # no time zone
    ]:  # fmt: skip
        answer = await client.post(f"{base}/forward", json=body, headers=LI)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"][0]["loc"][-1] == field
    body = {"to_team": "dept-furniture", "reason": "a sofa, not an appliance",
            "answer_by": answer_by}  # fmt: skip
    forwarded = await client.post(f"{base}/forward", json=body, headers=LI)
    assert forwarded.status_code == 200, forwarded.text
    assert (forwarded.json()["team"], forwarded.json()["assignee"]) == ("dept-furniture", None)
    assert await ids(client, WANG, team="dept-furniture") == {cid}
    assert await ids(client, WANG, team="store1-team-leads") == set()

    published = await outbox_events(engine, cid)
    assigned = [(e["data"]["reason"], e["data"]["team"], e["data"]["assignee"], e["data"]["by"])
                for e in published if e["type"] == "case.assigned"]  # fmt: skip
    assert assigned == [
        ("opened", "store1-frontline", None, None),
        ("escalated", "store1-team-leads", None, None),
        ("taken", "store1-team-leads", "lead-zhang", "lead-zhang"),
        ("handed_over", "store1-team-leads", "frontline-li", "lead-zhang"),
        ("forwarded", "dept-furniture", None, "frontline-li"),
    ]
    (fwd,) = [e["data"] for e in published if e["type"] == "case.forwarded"]
    assert (fwd["from_team"], fwd["to_team"], fwd["by"], fwd["by_name"]) == (
        "store1-team-leads", "dept-furniture", "frontline-li", "Li Wei",
    )  # fmt: skip
    assert datetime.fromisoformat(fwd["answer_by"]) == datetime.fromisoformat(answer_by)
    timeline = (await client.get(base, headers=LI)).json()["timeline"]
    assert [t["by"] for t in timeline if t["type"] == "case.forwarded"] == ["frontline-li"]


async def test_the_staff_directory_read_api(escalation):
    client, _, _ = escalation
    assert (await client.get("/directory/teams")).status_code == 401
    teams = (await client.get("/directory/teams", headers=LI)).json()
    leads = next(t for t in teams if t["id"] == "store1-team-leads")
    assert leads["rung"] == "team_lead" and leads["sites"] == ["store-1"]
    assert leads["members"] == [{"id": "lead-zhang", "name": "Zhang Min", "roles": ["team_lead"]}]
    departments = await client.get("/directory/teams", params={"department": True}, headers=LI)
    assert {t["id"] for t in departments.json()} == {"dept-appliances", "dept-furniture"}
    wang = (await client.get("/directory/people/duty-wang", headers=LI)).json()
    assert wang["email"] == "wang.fang@example.test" and "store1-duty" in wang["teams"]
    assert "webhook" not in wang
    assert (await client.get("/directory/people/nobody", headers=LI)).status_code == 404
    assert (await client.get("/directory/teams/store1-duty", headers=LI)).json()["name"]
    assert (await client.get("/directory/me", headers=ZHANG)).json()["id"] == "lead-zhang"


@pytest.fixture
async def followup(databases):
    url = await databases.create("followup")
    app = followup_app(
        FollowupSettings(database_url=url, kafka_topic_prefix="it.", **auth_settings())
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://followup") as client:
        yield client, app
    await app.state.runtime.engine.dispose()


async def test_call_backs_sit_in_their_teams_queue_until_someone_takes_one(followup):
    client, app = followup
    now = datetime.now(UTC)
    made = []
    async with app.state.runtime.sessions.begin() as session:
        for n in range(2):
            made.append(
                await callbacks.schedule(
                    session,
                    app.state.deps,
                    callbacks.planned(
                        app.state.deps,
                        origin=f"test:{uuid.uuid4()}",
                        kind=CallbackKind.RESOLUTION,
                        complaint_id=uuid.uuid4(),
                        customer=ContactCard(name="Zhou Jie", phone="+86 139 2222 3333"),
                        due_at=now + timedelta(hours=1 + n),
                        reason="case resolved",
                        now=now,
                        severity=Severity.GENERAL,
                        category="product_quality",
                        channel=Channel.COUNTER,
                    ),
                )
            )
    first, second = (str(c) for c in made)
    queue = await client.get("/callbacks", params={"team": "callback-desk"}, headers=LI)
    assert [c["callback_id"] for c in queue.json()["items"]] == [first, second]
    assert {c["team"] for c in queue.json()["items"]} == {"callback-desk"}
    bad = await client.get("/callbacks", params={"team": "nope"}, headers=LI)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "team"]

    taken = await client.post(f"/callbacks/{first}/take", headers=LI)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["assignee"], taken.json()["assignee_name"]) == ("frontline-li", "Li Wei")
    mine = await client.get("/callbacks", params={"assignee": "me"}, headers=LI)
    assert [c["callback_id"] for c in mine.json()["items"]] == [first]
    desk = await client.get("/callbacks", params={"team": "mine"}, headers=LI)  # Li is on it
    assert [c["callback_id"] for c in desk.json()["items"]] == [first, second]
    none = await client.get("/callbacks", params={"team": "mine"}, headers=ZHANG)
    assert none.json()["items"] == []
    assert (await client.post(f"/callbacks/{first}/take", headers=SUN)).status_code == 409
    assert (await client.post(f"/callbacks/{first}/take", headers=WANG)).status_code == 200
    assert (await client.post(f"/callbacks/{uuid.uuid4()}/take", headers=LI)).status_code == 404
    assert (await client.post(f"/callbacks/{second}/take")).status_code == 401
