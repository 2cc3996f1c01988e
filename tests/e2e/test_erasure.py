"""Erasure of a customer's personal data across the platform, with the services as real
processes: afterwards no database, log or topic of the run holds the customer's name, phone
or e-mail, except the topics' immutable history, which keeps it only for the bounded
retention of the topics that carry personal data (shared/privacy_topics.py)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.engine import make_url

from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.envelope import new_event
from shared.events.topics import Topics
from shared.privacy_topics import (
    apply_retention,
    personal_data_topics,
    retention_configs,
    topic_retention_ms,
)
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.support.kafka import read_until
from tests.support.waiting import eventually

AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
ADMIN = {"Authorization": f"Bearer {OPS_TOKENS['admin']}"}
CRM = {"X-API-Key": INTAKE_KEYS["crm[read-all,tier]"]}
RETENTION_DAYS = 30

POLICY = """
version: e2e-erasure
callback:
  after_resolution: 1s
  remedial_after: 0.5s
  overdue_after: 1h
attempts: {max: 3, spacing: [1s]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
"""


class Customer:
    """A customer whose data is unique to this test, so any trace of it is this test's."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        digits = str(int(tag, 16) % 10**8).zfill(8)
        self.id = f"cust-erase-{tag}"
        self.name = f"欧阳{tag}"
        self.phone = f"+86 139 {digits[:4]} {digits[4:]}"
        self.email = f"ouyang.{tag}@example.cn"
        self.phone_digits = "139" + digits

    def traces(self, text: str) -> list[str]:
        """Which of the customer's data ``text`` holds (the phone in any grouping)."""
        found = [v for v in (self.name, self.email) if v in text]
        if self.phone_digits in re.sub(r"[^0-9]", "", text.replace("+86", "")):
            found.append("phone")
        return found


async def dump_database(url: str) -> dict[str, list[str]]:
    """Every row of every table of a database, as text."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(plain)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        dump = {}
        for table in tables:
            name = f'"{table["schemaname"]}"."{table["tablename"]}"'
            rows = await conn.fetch(f"SELECT t::text AS row FROM {name} t")
            dump[name] = [r["row"] for r in rows]
        return dump
    finally:
        await conn.close()


async def topic_records(bootstrap: str, topics: list[str]) -> list[tuple[str, str]]:
    """(topic, value) of every record now on ``topics``, from the beginning to their end."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        await consumer.seek_to_beginning(*ends)
        found: list[tuple[str, str]] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                found += [
                    (tp.topic, (r.value or b"").decode(errors="replace"))
                    for r in records
                    if r.offset < ends[tp]
                ]
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


async def test_erasing_a_customer_leaves_no_trace_but_the_figures(
    start_service, servers, topics: Topics, tmp_path: Path
):
    bootstrap = servers.kafka_bootstrap
    # As `python -m shared.messaging.admin` does in every deployment.
    await apply_retention(bootstrap, personal_data_topics(topics), RETENTION_DAYS)
    policy = tmp_path / "followup-policy.yaml"
    policy.write_text(POLICY)
    # Notify is not started here (its own erasure is the same shared module, exercised by its
    # handlers): intake expects the confirmations of the services that run.
    intake = await start_service(
        "intake", INTAKE_ERASURE_SERVICES='["escalation", "followup", "satisfaction"]'
    )
    escalation = await start_service("escalation")
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=str(policy))
    satisfaction = await start_service("satisfaction")
    ledger = await start_service("ledger")  # no contact data, but the id and staff's texts
    services = [intake, escalation, followup, satisfaction, ledger]
    who = Customer()

    # The customer's purchases reach follow-up from the tills (its activity card, a call
    # after the sale).
    activity = new_event(
        "/e2e/tills",
        who.id,
        CustomerActivity(
            customer=ActivityCustomer(id=who.id, name=who.name, phone=who.phone),
            kind=ActivityKind.PURCHASE,
            at=datetime.now(UTC),
            reference=f"SO-{who.id}",
        ),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topics.activity, activity.to_bytes(), key=activity.key)
    finally:
        await producer.stop()

    async with httpx.AsyncClient(timeout=15) as http:
        card = {"id": who.id, "name": who.name, "phone": who.phone, "email": who.email}
        ids = []
        for channel, text in (("web", "洗衣机漏水"), ("hotline", f"请打 {who.phone} 找{who.name}")):
            submitted = await http.post(
                f"{intake.url}/complaints",
                headers={"X-API-Key": INTAKE_KEYS[channel]},
                json={"customer": card | {"tier": "B"}, "category": "product_quality",
                      "description": text,
                      "subject": {"kind": "order", "reference": f"SO-{who.id}"},
                      "expected_outcome": {"kind": "repair", "details": f"联系{who.email}"}},
            )  # fmt: skip
            assert submitted.status_code == 201, submitted.text
            ids.append(submitted.json()["complaint_id"])
        first = ids[0]

        # The first complaint goes the whole way: resolved, called back, surveyed.
        case_url = f"{escalation.url}/cases/{first}"

        async def case_open():
            found = await http.get(case_url, headers=AGENT)
            return found.status_code == 200 and found.json()["status"] == "open"

        await eventually(case_open)
        for step, body in (("acknowledge", {}), ("resolve", {"resolution": f"给{who.name}换新"})):
            done = await http.post(f"{case_url}/{step}", json=body, headers=AGENT)
            assert done.status_code == 200, done.text

        async def due_callback():
            found = await http.get(
                f"{followup.url}/callbacks", params={"complaint_id": first}, headers=AGENT
            )
            due = [c for c in found.json()["items"] if c["state"] == "due"]
            return due[0] if due else None

        callback = await eventually(due_callback)
        assert callback["customer"]["phone"] == who.phone
        outcome = await http.post(
            f"{followup.url}/callbacks/{callback['callback_id']}/outcome",
            json={"reached": True, "satisfied": True, "customer_words": f"我是{who.name}，满意"},
            headers=AGENT,
        )
        assert outcome.status_code == 200, outcome.text

        async def answered():
            comment = f"很好，有事打{who.phone}或写{who.email}"
            answer = await http.post(
                f"{satisfaction.url}/surveys",
                json={"complaint_id": first, "level": "satisfied", "comment": comment},
                headers=AGENT,
            )  # the agent takes the answer on the phone
            return answer if answer.status_code == 201 else None

        assert (await eventually(answered)).status_code == 201

        async def followup_knows_the_customer():
            found = await dump_database(followup.database_url)  # type: ignore[attr-defined]
            return any(who.name in row for row in found['"public"."customers"'])

        await eventually(followup_knows_the_customer)

        # Erase: an admin credential is needed; a channel key or an agent cannot.
        erase_url = f"{intake.url}/customers/{who.id}/erase"
        assert (await http.post(erase_url)).status_code == 401
        assert (await http.post(erase_url, headers=AGENT)).status_code == 403
        started = await http.post(erase_url, headers=ADMIN)
        assert started.status_code == 202, started.text
        assert started.json()["complaints"] == 2
        erasure_id = started.json()["erasure_id"]

        # Every service confirms each of the three requests (two complaints, the customer),
        # on its own topic; intake follows them.
        await read_until(
            bootstrap,
            topics.handling,
            lambda kept: len(kept) == 3,
            lambda r: (
                r.value["type"] == "customer.erased" and r.value["data"]["erasure_id"] == erasure_id
            ),
        )
        progress_url = f"{intake.url}/erasures/{erasure_id}"
        assert (await http.get(progress_url, headers=AGENT)).status_code == 403

        async def complete():
            found = (await http.get(progress_url, headers=ADMIN)).json()
            return found if found["complete"] else None

        progress = await eventually(complete)
        assert progress["requests"] == 3 and progress["pending"] == []
        assert progress["confirmed"] == {"escalation": 3, "followup": 3, "satisfaction": 3}
        unknown = await http.get(f"{intake.url}/erasures/{uuid.uuid4()}", headers=ADMIN)
        assert unknown.status_code == 404

        # The figures and the anonymous history stay.
        shown = (await http.get(f"{intake.url}/complaints/{first}", headers=CRM)).json()
        assert shown["customer"]["erased"] is True and shown["customer"]["tier"] == "B"
        assert shown["customer"]["id"].startswith("erased-") and shown["history"]
        assert shown["description"] == "[erased]"
        listed = await http.get(
            f"{intake.url}/complaints", params={"customer": who.id}, headers=CRM
        )
        assert listed.json()["items"] == []

        async def case_closed():
            found = (await http.get(case_url, headers=AGENT)).json()
            return found if found["status"] == "closed" else None

        case = await eventually(case_closed)
        assert case["tier"] == "B" and case["timeline"]
        assert case["customer"]["erased"] is True
        summary = await http.get(f"{satisfaction.url}/reports/summary", headers=AGENT)
        assert summary.status_code == 200

        # The ledger keeps the complaints' figures under the pseudonym.
        async def ledger_erased():
            rows = [(await http.get(f"{ledger.url}/ledger/{c}", headers=AGENT)).json() for c in ids]
            done = all(
                r.get("customer_id", "").startswith("erased-") and r.get("subject") == "order"
                for r in rows
            )
            return rows if done else None

        rows = await eventually(ledger_erased)
        assert rows[0]["resolution"] == "[erased]" and rows[0]["tier"] == "B"

    # No database of the run holds the customer's data.
    for process in services:
        dump = await dump_database(process.database_url)  # type: ignore[attr-defined]
        for table, rows in dump.items():
            for row in rows:
                assert not who.traces(row), f"{process.service} {table}: {row[:300]}"

    # No log line of the run does.
    for process in services:
        process.stop()
        for line in process.log_path.read_text(errors="replace").splitlines():
            assert not who.traces(line), f"{process.service} log: {line[:300]}"

    # The topics: only those that carry personal data, each with the bounded retention.
    carrying = set(personal_data_topics(topics))
    records = await topic_records(bootstrap, [t for t in topics.all() if not t.endswith(".dlq")])
    holding = {topic for topic, value in records if who.traces(value)}
    assert holding, "the history is expected to hold the data until it ages out"
    assert holding <= carrying, holding - carrying
    wanted = int(retention_configs(RETENTION_DAYS)["retention.ms"])

    async def retained():
        found = [await topic_retention_ms(bootstrap, t) for t in sorted(holding)]
        return all(ms == wanted for ms in found)

    assert await eventually(retained, timeout=20)


async def test_closed_complaints_are_anonymised_after_the_retention_period(
    start_service, servers, topics: Topics
):
    # A retention of about a second, swept twice a second.
    intake = await start_service(
        "intake", INTAKE_RETENTION_DAYS="0.00001", INTAKE_RETENTION_SWEEP_SECONDS="0.5"
    )
    who = Customer()
    async with httpx.AsyncClient(base_url=intake.url, timeout=15) as http:
        submitted = await http.post(
            "/complaints",
            headers={"X-API-Key": INTAKE_KEYS["web"]},
            json={"customer": {"id": who.id, "name": who.name, "email": who.email},
                  "category": "billing", "description": "double charge",
                  "in_litigation": True},  # rejected: a final status at once
        )  # fmt: skip
        assert submitted.status_code == 201 and submitted.json()["status"] == "rejected"
        cid = submitted.json()["complaint_id"]

        async def anonymised():
            shown = (await http.get(f"/complaints/{cid}", headers=CRM)).json()
            return shown if shown["customer"].get("erased") else None

        shown = await eventually(anonymised)
        assert shown["status"] == "rejected" and shown["category"] == "billing"
        assert not who.traces(str(shown))

    [request] = await read_until(
        servers.kafka_bootstrap,
        topics.intake,
        lambda kept: len(kept) == 1,
        lambda r: r.key == cid and r.value["type"] == "customer.erasure_requested",
    )
    assert request.value["data"]["reason"] == "retention"
    assert request.value["data"]["customer_id"] is None
    for row in (await dump_database(intake.database_url))['"public"."complaints"']:  # type: ignore[attr-defined]
        assert not who.traces(row)
