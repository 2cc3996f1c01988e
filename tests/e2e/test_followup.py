"""The follow-up service as a real process against the real Kafka and PostgreSQL: the whole
loop with intake and escalation until the customer is satisfied, an unreachable customer,
a retention call from activity, and a SIGKILL in the middle of the work."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.common import Channel, ContactCard, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.handling import CaseResolved
from shared.events.notify import SurveyInvited
from shared.events.versions import token_sha256
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.support.kafka import Record, read_until
from tests.support.waiting import eventually

AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}

# Seconds instead of days, so a test sees a call-back fall due and go overdue.
SHORT_POLICY = """
version: e2e-short
callback:
  after_resolution: 1s
  tier_factors: {VIP: 0.5, A: 0.5}
  major_factor: 0.5
  remedial_after: 0.5s
  overdue_after: OVERDUE
attempts: {max: 3, spacing: [1s]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
"""


def policy_file(tmp_path: Path, overdue: str = "1h", after: str = "1s") -> str:
    path = tmp_path / f"followup-policy-{uuid.uuid4().hex[:6]}.yaml"
    text = SHORT_POLICY.replace("OVERDUE", overdue)
    path.write_text(text.replace("after_resolution: 1s", f"after_resolution: {after}"))
    return str(path)


async def produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()


async def invite(bootstrap: str, topic: str, survey: dict, token: str) -> None:
    """survey.invited for a survey.requested, as the notification service publishes it."""
    invited = SurveyInvited(
        survey_id=survey["survey_id"],
        complaint_id=survey["complaint_id"],
        token_sha256=token_sha256(token),
        expires_at=datetime.now(UTC) + timedelta(days=14),
        at=datetime.now(UTC),
    )
    await produce(bootstrap, topic, [new_event("/e2e/notify", survey["complaint_id"], invited)])


def resolved(complaint_id: uuid.UUID, round: int = 1) -> Envelope:
    values = dict(
        complaint_id=complaint_id, at=datetime.now(UTC), by="agent:e2e", round=round,
        resolution="refunded", severity=Severity.GENERAL, channel=Channel.WEB,
        category="billing",
        customer=ContactCard(id=f"c-{complaint_id.hex[:6]}", name="张伟", phone="13800000001"),
        highest_level="frontline", clocks_met={}, tier=Tier.C, level="frontline",
    )  # fmt: skip
    data = CaseResolved(**{k: v for k, v in values.items() if k in CaseResolved.model_fields})
    return new_event("/e2e/escalation", str(complaint_id), data)


async def callbacks_for(http: httpx.AsyncClient, base: str, complaint_id: str) -> list[dict]:
    answer = await http.get(
        f"{base}/callbacks", params={"complaint_id": complaint_id}, headers=AGENT
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def types_of(records: list[Record]) -> list[str]:
    return [r.value["type"] for r in records]


async def test_complaint_loop_until_the_customer_is_satisfied(
    start_service, servers, topics, tmp_path
):
    """complaint -> case resolved -> call-back due -> "not satisfied" -> case reopened ->
    resolved again -> new call-back -> "satisfied" -> survey.requested for cycle 2 (no token:
    the test publishes survey.invited as the notification service would); the customer
    answers "neutral" with the link's token (once only) -> a remedial call-back, satisfied,
    and no second survey for the cycle."""
    intake = await start_service("intake")
    escalation = await start_service("escalation")
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=policy_file(tmp_path))
    satisfaction = await start_service("satisfaction")
    async with httpx.AsyncClient(timeout=10) as http:
        submitted = await http.post(
            f"{intake.url}/complaints",
            headers={"X-API-Key": INTAKE_KEYS["web"]},
            json={
                "customer": {"id": "c-loop", "name": "李娜", "phone": "+86 138 0013 8000",
                             "tier": "A"},
                "category": "product_quality",
                "description": "洗衣机漏水，修过一次还是漏",
            },
        )  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        complaint_id = submitted.json()["complaint_id"]
        case_url = f"{escalation.url}/cases/{complaint_id}"

        async def case_in(*statuses: str, round: int = 1):
            answer = await http.get(case_url, headers=AGENT)
            if answer.status_code != 200:
                return None
            case = answer.json()
            return case if case["status"] in statuses and case["round"] == round else None

        async def work_and_resolve(round: int, resolution: str) -> None:
            await eventually(lambda: case_in("open", "reopened", round=round))
            acked = await http.post(f"{case_url}/acknowledge", json={}, headers=AGENT)
            assert acked.status_code == 200, acked.text
            done = await http.post(
                f"{case_url}/resolve", json={"resolution": resolution}, headers=AGENT
            )
            assert done.status_code == 200, done.text

        async def due_callback(round: int):
            found = await callbacks_for(http, followup.url, complaint_id)
            due = [c for c in found if c["round"] == round and c["state"] == "due"]
            return due[0] if due else None

        # Round 1: resolved, the call-back falls due, the customer is still unhappy.
        await work_and_resolve(1, "repaired the seal")
        first = await eventually(lambda: due_callback(1))
        assert first["customer"]["name"] == "李娜" and first["kind"] == "resolution"
        unhappy = await http.post(
            f"{followup.url}/callbacks/{first['callback_id']}/outcome",
            json={"reached": True, "satisfied": False, "customer_words": "还是漏水"},
            headers=AGENT,
        )
        assert unhappy.status_code == 200 and unhappy.json()["state"] == "reopened"

        # Escalation reopens the case with a new round; resolved again, a new call-back.
        await work_and_resolve(2, "replaced the machine")
        second = await eventually(lambda: due_callback(2))
        assert second["callback_id"] != first["callback_id"]
        happy = await http.post(
            f"{followup.url}/callbacks/{second['callback_id']}/outcome",
            json={"reached": True, "satisfied": True, "customer_words": "新机器很好"},
            headers=AGENT,
        )
        assert happy.status_code == 200 and happy.json()["state"] == "completed"
        closed = await eventually(lambda: case_in("closed", round=2))
        assert closed["outcome"] == "resolved"
        assert len(await callbacks_for(http, followup.url, complaint_id)) == 2

    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: "survey.requested" in types_of(kept),
        lambda r: r.key == complaint_id,
    )
    assert types_of(published) == [
        "followup.scheduled", "followup.due", "complaint.reopened",
        "followup.scheduled", "followup.due", "followup.completed", "survey.requested",
    ]  # fmt: skip
    survey = published[-1].value["data"]
    assert survey["reason"] == "satisfied" and "survey_token" not in survey
    assert survey["cycle"] == 2  # the resolution cycle the customer was satisfied with
    assert survey["customer"]["id"] == "c-loop"
    # The notification service makes the token and publishes only its hash (the contract);
    # it is not running here, so the test does what it would.
    token = secrets.token_urlsafe(24)
    await invite(servers.kafka_bootstrap, topics.notify, survey, token)
    handling = await read_until(
        servers.kafka_bootstrap,
        topics.handling,
        lambda kept: "case.closed" in types_of(kept),
        lambda r: r.key == complaint_id,
    )
    assert types_of(handling).count("case.resolved") == 2
    assert "case.reopened" in types_of(handling)

    # The customer answers the survey "neutral": remedial action, a sooner call-back.
    async with httpx.AsyncClient(timeout=10) as http:
        answer_url = f"{satisfaction.url}/surveys/{token}"

        async def invited():
            answer = await http.get(answer_url)
            return answer.json() if answer.status_code == 200 else None  # not yet consumed

        assert (await eventually(invited))["status"] == "open"
        first_answer = await http.post(answer_url, json={"level": "neutral"})
        assert first_answer.status_code == 201, first_answer.text
        again = await http.post(answer_url, json={"level": "very_satisfied"})
        assert again.status_code == 409  # one answer per cycle, named
        assert (
            again.json()["detail"]["first_answer"]["answer_id"]
            == (first_answer.json()["answer_id"])
        )

        async def remedial():
            found = await callbacks_for(http, followup.url, complaint_id)
            return [c for c in found if c["kind"] == "remedial" and c["state"] == "due"]

        (call,) = await eventually(remedial)
        assert "neutral" in call["reason"] and call["customer"]["id"] == "c-loop"
        # The remedial call reaches a satisfied customer: cycle 2 is measured already, so
        # no second survey.
        done = await http.post(
            f"{followup.url}/callbacks/{call['callback_id']}/outcome",
            json={"reached": True, "satisfied": True},
            headers=AGENT,
        )
        assert done.status_code == 200 and done.json()["state"] == "completed", done.text
    after = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: types_of(kept).count("followup.completed") >= 2,
        lambda r: r.key == complaint_id,
    )
    assert types_of(after).count("survey.requested") == 1


async def test_an_unreachable_customer_through_every_attempt(
    start_service, servers, topics, tmp_path
):
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=policy_file(tmp_path))
    complaint = uuid.uuid4()
    await produce(servers.kafka_bootstrap, topics.handling, [resolved(complaint)])
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in (1, 2, 3):

            async def due(expected=attempt):
                found = await callbacks_for(http, followup.url, str(complaint))
                return next(
                    (c for c in found if c["state"] == "due" and c["attempts"] == expected - 1),
                    None,
                )

            callback = await eventually(due)
            answer = await http.post(
                f"{followup.url}/callbacks/{callback['callback_id']}/outcome",
                json={"reached": False, "note": "no answer"},
                headers=AGENT,
            )
            assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "unreachable"
        assert answer.json()["outcome"] == "unreachable"
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: "survey.requested" in types_of(kept),
        lambda r: r.key == str(complaint),
    )
    assert types_of(published) == [
        "followup.scheduled",
        "followup.due", "followup.attempt_failed",
        "followup.due", "followup.attempt_failed",
        "followup.due", "followup.unreachable", "survey.requested",
    ]  # fmt: skip
    assert published[-1].value["data"]["reason"] == "unreachable"
    assert published[-1].value["data"]["cycle"] == 1


async def test_a_customer_dropping_from_a_to_b_gets_one_retention_call(
    start_service, servers, topics, tmp_path
):
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=policy_file(tmp_path))
    now = datetime.now(UTC)
    this_month = date(now.year, now.month, 1)
    last = date(this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 1)
    before = date(last.year - (last.month == 1), (last.month - 2) % 12 + 1, 1)
    customer = f"cust-{uuid.uuid4().hex[:8]}"

    def visits(month: date, n: int) -> list[Envelope]:
        return [
            new_event(
                "/e2e/tills",
                customer,
                CustomerActivity(
                    customer=ActivityCustomer(id=customer, name="王芳", phone="13900000002"),
                    kind=ActivityKind.PURCHASE,
                    at=datetime(month.year, month.month, day, 11, tzinfo=UTC),
                    amount=88.0,
                ),
            )
            for day in range(1, n + 1)
        ]

    await produce(servers.kafka_bootstrap, topics.activity, visits(before, 12) + visits(last, 7))
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 1,
        lambda r: r.key == customer,
    )
    await asyncio.sleep(3)  # well past the review grace: no second call may follow
    again = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 1,
        lambda r: r.key == customer,
    )
    assert len(again) == 1 == len(published)
    data = published[0].value["data"]
    assert published[0].value["type"] == "followup.scheduled"
    assert data["kind"] == "retention" and data["complaint_id"] is None
    assert data["tier_change"]["from_tier"] == "A" and data["tier_change"]["to_tier"] == "B"
    assert data["customer"]["id"] == customer and "A to B" in data["reason"]
    async with httpx.AsyncClient(timeout=10) as http:
        queue = await http.get(
            f"{followup.url}/callbacks", params={"kind": "retention"}, headers=AGENT
        )
    assert [c["customer"]["id"] for c in queue.json()["items"]].count(customer) == 1


async def test_a_purchase_and_an_exchange_each_get_one_call_back_when_due(
    start_service, servers, topics, tmp_path
):
    """DOMAIN.md: a retailer calls some days after a sale, and again after an exchange.
    Seconds here instead of days; each activity delivered twice and the purchase told again
    under another event id (same order number): one call each, due on its own time."""
    policy = tmp_path / "followup-activity.yaml"
    policy.write_text(
        SHORT_POLICY.replace("OVERDUE", "1h")
        + "after_activity: {purchase: 1s, exchange: 2s, call_within: 7d}\n"
    )
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=str(policy))
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)

    def told(kind: ActivityKind, reference: str) -> Envelope:
        return new_event(
            "/e2e/tills",
            customer,
            CustomerActivity(
                customer=ActivityCustomer(id=customer, name="王芳", phone="13900000003"),
                kind=kind,
                at=now,
                amount=199.0,
                location="store-7",
                reference=reference,
            ),
        )

    sale, exchange = told(ActivityKind.PURCHASE, "SO-7"), told(ActivityKind.EXCHANGE, "EX-7")
    retold = told(ActivityKind.PURCHASE, "SO-7")
    await produce(servers.kafka_bootstrap, topics.activity, [sale, sale, exchange, retold])
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: sum(r.value["type"] == "followup.due" for r in kept) >= 2,
        lambda r: r.key == customer,
    )
    await asyncio.sleep(2)  # time for any duplicate to show up
    again = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= len(published),
        lambda r: r.key == customer,
    )
    kinds = sorted((r.value["type"], r.value["data"]["kind"]) for r in again)
    assert kinds == [
        ("followup.due", "after_exchange"), ("followup.due", "after_sale"),
        ("followup.scheduled", "after_exchange"), ("followup.scheduled", "after_sale"),
    ]  # fmt: skip
    due = {
        r.value["data"]["kind"]: datetime.fromisoformat(r.value["data"]["due_at"])
        for r in again
        if r.value["type"] == "followup.scheduled"
    }
    assert due == {
        "after_sale": now + timedelta(seconds=1),
        "after_exchange": now + timedelta(seconds=2),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        queue = await http.get(
            f"{followup.url}/callbacks", params={"kind": "after_exchange"}, headers=AGENT
        )
        [call] = [c for c in queue.json()["items"] if c["customer"]["id"] == customer]
        assert call["state"] == "due" and call["customer"]["phone"] == "13900000003"
        done = await http.post(
            f"{followup.url}/callbacks/{call['callback_id']}/outcome",
            json={"reached": True, "satisfied": True},
            headers=AGENT,
        )
        assert done.status_code == 200, done.text
    completed = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= 1,
        lambda r: r.key == customer and r.value["type"] == "followup.completed",
    )
    data = completed[0].value["data"]
    assert (data["kind"], data["outcome"], data["customer_id"]) == (
        "after_exchange", "satisfied", customer
    )  # fmt: skip


async def test_sigkill_in_the_middle_loses_and_repeats_nothing(
    start_service, servers, topics, tmp_path
):
    policy = policy_file(tmp_path, overdue="1s", after="2s")
    first = await start_service("followup", FOLLOWUP_POLICY_FILE=policy)
    complaints = [uuid.uuid4() for _ in range(40)]
    keys = {str(c) for c in complaints}
    await produce(servers.kafka_bootstrap, topics.handling, [resolved(c) for c in complaints[:30]])
    async with httpx.AsyncClient(timeout=10) as http:

        async def some_scheduled():
            answer = await http.get(f"{first.url}/callbacks", params={"limit": 200}, headers=AGENT)
            mine = [c for c in answer.json()["items"] if c["complaint_id"] in keys]
            return len(mine) >= 5

        await eventually(some_scheduled, interval=0.05)
    first.kill()
    # While it is down: more resolutions arrive, and scheduled call-backs fall due.
    await produce(servers.kafka_bootstrap, topics.handling, [resolved(c) for c in complaints[30:]])
    second = await start_service(
        "followup", database_url=first.database_url, FOLLOWUP_POLICY_FILE=policy
    )
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len({r.key for r in kept if r.value["type"] == "followup.overdue"}) >= 40,
        lambda r: r.key in keys,
        timeout=90,
    )
    await asyncio.sleep(1)
    published = await read_until(
        servers.kafka_bootstrap,
        topics.followup,
        lambda kept: len(kept) >= len(published),
        lambda r: r.key in keys,
    )
    # A relay killed between publishing and committing may publish a record again (same
    # event id, dropped by consumers); no effect may happen twice (distinct event ids).
    effects: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in published:
        effects[(r.key, r.value["type"])].add(r.value["id"])
    for key in keys:
        for kind in ("followup.scheduled", "followup.due", "followup.overdue"):
            assert len(effects[(key, kind)]) == 1, (key, kind, effects[(key, kind)])
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(
            f"{second.url}/callbacks", params={"limit": 200, "state": "overdue"}, headers=AGENT
        )
    assert {c["complaint_id"] for c in answer.json()["items"]} >= keys
