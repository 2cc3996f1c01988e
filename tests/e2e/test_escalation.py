"""The escalation service as a real process, with intake, against the real Kafka and
PostgreSQL, on a policy of seconds: the ladder in order and on time, a SIGKILL mid-ladder,
redelivered complaints."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from itertools import pairwise

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from shared.db import create_engine
from shared.events.common import Channel, Mode, Severity, Tier
from shared.events.envelope import CONTENT_TYPE, Envelope, new_event
from shared.events.intake import ComplaintReceived, Customer
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.support.kafka import Record, events_for, read_until
from tests.support.servers import ROOT

COUNTER = {"X-API-Key": INTAKE_KEYS["counter"]}
AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
LADDER = ["frontline", "team_lead", "supervisor", "customer_relations", "department_manager"]


def policy(step: str) -> str:
    """The default ladder with ``step`` seconds per level."""
    return f"""
version: "e2e-{step}s"
levels: [frontline, team_lead, supervisor, customer_relations, department_manager,
         executive_office]
ceiling: {{general: department_manager, major: executive_office}}
warn_at: [0.8]
modes:
  on_site:
    start: {{general: frontline, major: supervisor}}
    climb: {{frontline: 0s, team_lead: {step}s, supervisor: {step}s,
             customer_relations: {step}s, department_manager: {step}s}}
    climb_until: plan
    clocks:
      acknowledge: {{within: 1h, met_by: acknowledge, escalate: false}}
      respond: {{within: 1h, met_by: plan, escalate: false}}
  remote:
    start: {{general: frontline, major: customer_relations}}
    clocks:
      acknowledge: {{within: 1h, met_by: acknowledge}}
      investigate: {{within: 1d, met_by: investigate}}
      plan: {{within: 2d, met_by: plan}}
"""


async def start_escalation(start_service, tmp_path, step: float, database_url=None):
    file = tmp_path / f"policy-{step}.yaml"
    file.write_text(policy(str(step)))
    return await start_service(
        "escalation", database_url=database_url, ESCALATION_POLICY_FILE=str(file)
    )


def distinct(records: list[Record]) -> list[dict]:
    """The events, each once: the relay publishes at least once, consumers dedupe by id."""
    seen, found = set(), []
    for record in records:
        if record.value["id"] not in seen:
            seen.add(record.value["id"])
            found.append(record.value)
    return found


def escalations(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["data"]["from_level"], e["data"]["to_level"]) for e in events
            if e["type"] == "case.escalated"]  # fmt: skip


def reached_top(records: list[Record]) -> bool:
    return ("customer_relations", "department_manager") in escalations(distinct(records))


async def test_a_complaint_posted_to_intake_climbs_the_ladder_in_order_and_on_time(
    start_service, servers, topics, tmp_path
):
    intake = await start_service("intake")
    escalation = await start_escalation(start_service, tmp_path, step=2)
    async with httpx.AsyncClient(timeout=15) as client:
        body = {
            "customer": {"name": "Zhang Min", "phone": "+86 137 5555 0000", "tier": "B"},
            "category": "service_attitude",
            "description": "The waiter was rude at the counter.",
        }
        r = await client.post(f"{intake.url}/complaints", json=body, headers=COUNTER)
        assert r.status_code == 201, r.text
        cid = r.json()["complaint_id"]

        records = await read_until(
            servers.kafka_bootstrap, topics.handling, reached_top, lambda r: r.key == cid, 40
        )
        events = distinct(records)
        assert events[0]["type"] == "case.opened"
        assert events[0]["data"]["policy_version"] == "e2e-2s"
        assert escalations(events) == list(pairwise(LADDER))
        steps = [e for e in events if e["type"] == "case.escalated"]
        due = [datetime.fromisoformat(e["data"]["at"]) for e in steps]
        opened = datetime.fromisoformat(events[0]["data"]["opened_at"])
        # At once to the team lead, then two seconds per level.
        assert [round((d - opened).total_seconds(), 3) for d in due] == [0, 2, 4, 6]
        # Each step taken once due, never before; and woken by its own timer, not by the
        # scheduler's 30 s safety poll (how prompt exactly is bench/escalation.py's figure).
        for event in steps[1:]:
            lateness = datetime.fromisoformat(event["time"]) - datetime.fromisoformat(
                event["data"]["at"]
            )
            assert 0 <= lateness.total_seconds() < 10, event

        case = (await client.get(f"{escalation.url}/cases/{cid}", headers=AGENT)).json()
        assert case["level"] == "department_manager" and case["ladder_due"] is None
        assert [t["type"] for t in case["timeline"]].count("case.escalated") == 4

        # Intake's status follows the handling events.
        for _ in range(50):
            shown = (await client.get(f"{intake.url}/complaints/{cid}", headers=COUNTER)).json()
            if shown["escalation_level"] == "department_manager":
                break
            await asyncio.sleep(0.2)
        assert (shown["status"], shown["escalation_level"]) == ("open", "department_manager")

        # The complaint.received record again, as a redelivery would bring it, and once more
        # republished under a new event id: still one case, opened once.
        [received] = await events_for(servers.kafka_bootstrap, topics.intake, cid, 1)
        original = Envelope.model_validate(received.value)
        republished = original.model_copy(update={"id": uuid.uuid4()})
        await produce(servers.kafka_bootstrap, topics.intake, [original, republished])
        await processed(escalation.database_url, republished.id)
    records = await read_until(
        servers.kafka_bootstrap, topics.handling, reached_top, lambda r: r.key == cid, 20
    )
    assert [e["type"] for e in distinct(records)].count("case.opened") == 1
    assert await count_cases(escalation.database_url, cid) == 1


async def test_killed_mid_ladder_the_restarted_service_takes_the_remaining_steps_once(
    start_service, servers, topics, tmp_path
):
    first = await start_escalation(start_service, tmp_path, step=2.5)
    event = complaint_received()
    cid = event.subject
    await produce(servers.kafka_bootstrap, topics.intake, [event])

    def two_steps(records: list[Record]) -> bool:
        return ("team_lead", "supervisor") in escalations(distinct(records))

    await read_until(
        servers.kafka_bootstrap, topics.handling, two_steps, lambda r: r.key == cid, 40
    )
    first.kill()  # SIGKILL: no clean shutdown
    await asyncio.sleep(3)  # the next step falls due while nothing runs
    second = await start_escalation(
        start_service, tmp_path, step=2.5, database_url=first.database_url
    )
    records = await read_until(
        servers.kafka_bootstrap, topics.handling, reached_top, lambda r: r.key == cid, 40
    )
    await asyncio.sleep(1.5)  # room for a duplicate to show up, if there were one
    records = await read_until(
        servers.kafka_bootstrap, topics.handling, reached_top, lambda r: r.key == cid, 20
    )
    events = distinct(records)
    assert escalations(events) == list(pairwise(LADDER))
    assert [e["type"] for e in events].count("case.opened") == 1
    async with httpx.AsyncClient(timeout=15) as client:
        case = (await client.get(f"{second.url}/cases/{cid}", headers=AGENT)).json()
    assert [
        t["data"].get("to_level") for t in case["timeline"] if t["type"] == "case.escalated"
    ] == (LADDER[1:])


def complaint_received() -> Envelope:
    cid = uuid.uuid4()
    return new_event(
        "/complaint-platform/intake",
        str(cid),
        ComplaintReceived(
            complaint_id=cid,
            received_at=datetime.now(UTC),
            channel=Channel.COUNTER,
            mode=Mode.ON_SITE,
            category="service_attitude",
            severity=Severity.GENERAL,
            severity_reasons=[],
            customer=Customer(name="Chen Jie", phone="+86 136 0000 1111", tier=Tier.C),
            description="Waited an hour at the counter.",
            information_complete=True,
            acknowledge_by=None,
        ),
    )


async def produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic,
                event.to_bytes(),
                key=event.key,
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
    finally:
        await producer.stop()


async def processed(database_url: str, event_id: uuid.UUID, timeout: float = 30) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        for _ in range(int(timeout / 0.2)):
            async with engine.connect() as conn:
                found = await conn.scalar(
                    sa.text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event_id}
                )
            if found:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"event {event_id} was not processed in {timeout}s")
    finally:
        await engine.dispose()


async def count_cases(database_url: str, complaint_id: str) -> int:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                sa.text("SELECT count(*) FROM cases WHERE complaint_id = :id"),
                {"id": uuid.UUID(complaint_id)},
            )
    finally:
        await engine.dispose()


def test_a_bad_policy_stops_the_service_with_the_line_and_the_problem(tmp_path):
    text = policy("2").replace("investigate: {within: 1d", "investigate: {within: one day")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "one day" in t)
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    env = {**os.environ, "ESCALATION_POLICY_FILE": str(file)}
    done = subprocess.run(
        [sys.executable, "-m", "services.escalation"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{file} line {line}: modes.remote.clocks.investigate.within: " in done.stderr
    assert "'one day' is not a duration" in done.stderr
