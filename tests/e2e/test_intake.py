"""The intake service as a real uvicorn process, against the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from shared.db import create_engine
from shared.events.envelope import Envelope
from shared.messaging.admin import ensure_topics
from tests.e2e.conftest import INTAKE_KEYS
from tests.support.disposable_kafka import DisposableKafka
from tests.support.kafka import events_for, read_until
from tests.support.tcp_proxy import TcpProxy

WEB = {"X-API-Key": INTAKE_KEYS["web"]}


def complaint(**overrides) -> dict:
    return {
        "customer": {
            "id": f"cust-{uuid.uuid4().hex[:6]}",
            "name": "王芳",
            "phone": "+86 139 1234 5678",
            "email": "wang.fang@example.cn",
            "tier": "A",
        },
        "category": "product_quality",
        "description": "新买的洗衣机第一次使用就漏水，地板都泡坏了。",
        "subject": {"kind": "order", "reference": "SO-2026-0042", "purchased_on": "2026-11-01"},
        "expected_outcome": {"kind": "exchange", "details": "换一台新的"},
        "documents": [{"name": "receipt.jpg", "kind": "receipt"}],
    } | overrides


@pytest.fixture
async def intake(start_service):
    process = await start_service("intake")
    async with httpx.AsyncClient(base_url=process.url, timeout=15) as client:
        yield client


async def test_a_posted_complaint_reaches_the_topic_with_its_key_and_envelope(
    intake, servers, topics
):
    response = await intake.post("/complaints", json=complaint(), headers=WEB)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["status"] == "received" and answer["valid"] is True
    assert answer["severity"] == "general"
    assert answer["acknowledge_by"] is not None

    cid = answer["complaint_id"]
    [record] = await events_for(servers.kafka_bootstrap, topics.intake, cid, 1)
    assert record.headers["content-type"].startswith(b"application/cloudevents+json")
    event = record.value
    assert event["specversion"] == "1.0" and event["type"] == "complaint.received"
    assert event["subject"] == cid and event["source"] == "/complaint-platform/intake"
    assert event["data"]["description"] == complaint()["description"]  # Chinese round-trips
    assert event["data"]["channel"] == "web" and event["data"]["mode"] == "remote"
    assert event["data"]["customer"]["tier"] == "A"

    shown = (await intake.get(f"/complaints/{cid}", headers=WEB)).json()
    assert shown["description"] == complaint()["description"]
    assert [h["status"] for h in shown["history"]] == ["received"]


async def test_a_retried_request_returns_the_same_complaint_and_publishes_once(
    intake, servers, topics
):
    headers = WEB | {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    body = complaint()
    first = await intake.post("/complaints", json=body, headers=headers)
    again = await intake.post("/complaints", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["complaint_id"] == again.json()["complaint_id"]

    different = await intake.post(
        "/complaints", json=complaint(description="something else"), headers=headers
    )
    assert different.status_code == 409

    cid = first.json()["complaint_id"]
    marker = (await intake.post("/complaints", json=complaint(), headers=WEB)).json()
    # Once a later complaint is on the topic, any duplicate of the first would be too.
    seen = await read_until(
        servers.kafka_bootstrap,
        topics.intake,
        lambda kept: any(r.key == marker["complaint_id"] for r in kept),
        lambda r: r.key in (cid, marker["complaint_id"]),
    )
    assert [r.key for r in seen].count(cid) == 1


async def test_concurrent_retries_record_one_complaint(intake):
    headers = WEB | {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    body = complaint()
    answers = await asyncio.gather(
        *(intake.post("/complaints", json=body, headers=headers) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["complaint_id"] for a in answers}) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (complaint(customer={"name": "Li", "email": "no-at-sign"}), ["body", "customer", "email"]),
        (complaint(category="weather"), ["body", "category"]),
        (complaint(channel="hotline"), ["body", "channel"]),
        (complaint(description=""), ["body", "description"]),
        (complaint(subject={"kind": "order", "purchased_on": "31/12/2025"}),
         ["body", "subject", "purchased_on"]),
        ({"category": "billing", "description": "x"}, ["body", "customer"]),
    ],
)  # fmt: skip
async def test_bad_input_is_422_naming_the_field(intake, body, field):
    response = await intake.post("/complaints", json=body, headers=WEB)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == field


async def test_malformed_json_is_422(intake):
    response = await intake.post(
        "/complaints", content=b"{not json", headers=WEB | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_a_body_over_64_kib_is_413(intake):
    big = complaint(description="投诉" * 40_000)
    too_large = await intake.post("/complaints", json=big, headers=WEB)
    assert too_large.status_code == 413
    assert too_large.json() == {"detail": "Content Too Large"}  # the documented error body
    # Answered before the body is read (a path naming nothing): the same JSON 413.
    elsewhere = await intake.post("/no-such-path", json=big, headers=WEB)
    assert (elsewhere.status_code, elsewhere.headers["content-type"]) == (
        413,
        "application/json",
    )

    async def chunks():  # no Content-Length: the limit holds for streamed bodies too
        yield b'{"description": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    streamed = await intake.post(
        "/complaints", content=chunks(), headers=WEB | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_missing_or_wrong_key_is_401(intake):
    assert (await intake.post("/complaints", json=complaint())).status_code == 401
    wrong = {"X-API-Key": "not-a-key"}
    assert (await intake.post("/complaints", json=complaint(), headers=wrong)).status_code == 401
    assert (await intake.get("/complaints", headers=wrong)).status_code == 401


async def test_an_invalid_complaint_is_recorded_answered_and_published_as_rejected(
    intake, servers, topics
):
    body = complaint(expected_outcome={"kind": "damages", "amount": 20000})
    response = await intake.post("/complaints", json=body, headers=WEB)
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "rejected" and answer["valid"] is False
    assert answer["rejection"]["reason"] == "damages_claim"
    assert answer["rejection"]["other_channel"]
    assert answer["acknowledge_by"] is None
    [record] = await events_for(servers.kafka_bootstrap, topics.intake, answer["complaint_id"], 1)
    assert record.value["type"] == "complaint.rejected"
    assert record.value["data"]["reason"] == "damages_claim"


async def test_incomplete_contact_data_is_recorded_and_completed_later(intake, servers, topics):
    body = complaint(customer={"name": "赵先生", "tier": "B"}, severity="major")
    answer = (await intake.post("/complaints", json=body, headers=WEB)).json()
    assert answer["status"] == "awaiting_information"
    assert answer["missing_fields"] == ["customer.phone|customer.email"]
    assert "customer.phone or customer.email" in answer["message"]
    cid = answer["complaint_id"]

    patched = await intake.patch(
        f"/complaints/{cid}/customer", json={"phone": "021-6543 2100"}, headers=WEB
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "received" and patched.json()["missing_fields"] == []
    again = await intake.patch(f"/complaints/{cid}/customer", json={"phone": "1"}, headers=WEB)
    assert again.status_code in (409, 422)

    received, completed = await events_for(servers.kafka_bootstrap, topics.intake, cid, 2)
    assert received.value["data"]["information_complete"] is False
    assert completed.value["type"] == "complaint.completed"
    assert completed.value["data"]["customer"]["phone"] == "021-6543 2100"


async def test_major_complaints_are_classified_and_acknowledged_sooner(intake):
    body = complaint(description="The heater caught fire in the living room", category="other")
    answer = (await intake.post("/complaints", json=body, headers=WEB)).json()
    assert answer["severity"] == "major"
    assert "keyword:fire" in answer["severity_reasons"]
    received = datetime.fromisoformat(answer["received_at"])
    due = datetime.fromisoformat(answer["acknowledge_by"])
    assert (due - received).total_seconds() == pytest.approx(30 * 60)  # 2h x A 0.5 x major 0.5


async def test_list_filters_and_cursor_pagination(intake):
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    body = complaint()
    body["customer"] = body["customer"] | {"id": customer}
    ids = []
    for _ in range(5):
        ids.append(
            (await intake.post("/complaints", json=body, headers=WEB)).json()["complaint_id"]
        )
    hotline = {"X-API-Key": INTAKE_KEYS["hotline"]}
    await intake.post("/complaints", json=body, headers=hotline)

    seen, cursor = [], None
    while True:
        params = {"customer": customer, "channel": "web", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await intake.get("/complaints", params=params, headers=WEB)).json()
        seen += [item["complaint_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    own = (await intake.get("/complaints", params={"customer": customer}, headers=WEB)).json()
    assert len(own["items"]) == 5  # a channel key reads what its channel submitted
    crm = {"X-API-Key": INTAKE_KEYS["crm[read-all,tier]"]}
    everything = await intake.get("/complaints", params={"customer": customer}, headers=crm)
    assert len(everything.json()["items"]) == 6
    bad = await intake.get("/complaints", params={"cursor": "garbage"}, headers=WEB)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    bad = await intake.get("/complaints", params={"status": "sleeping"}, headers=WEB)
    assert bad.status_code == 422


async def test_status_follows_the_handling_events(intake, servers, topics):
    cid = (await intake.post("/complaints", json=complaint(), headers=WEB)).json()["complaint_id"]
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap)
    await producer.start()
    try:
        for event_type, data in [
            ("case.opened", {"level": "frontline"}),
            ("case.acknowledged", {}),
            ("case.escalated", {"to_level": "supervisor"}),
            ("case.paused", {}),
            ("case.resumed", {}),
            ("case.resolved", {}),
        ]:
            event = Envelope(source="/tests", type=event_type, subject=cid, data=data)
            await producer.send_and_wait(topics.handling, event.to_bytes(), key=cid.encode())
            await asyncio.sleep(0.01)  # distinct event times
    finally:
        await producer.stop()

    for _ in range(150):
        shown = (await intake.get(f"/complaints/{cid}", headers=WEB)).json()
        if shown["status"] == "resolved":
            break
        await asyncio.sleep(0.2)
    assert shown["status"] == "resolved"
    assert shown["escalation_level"] == "supervisor"
    assert [h["status"] for h in shown["history"]] == [
        "received", "open", "acknowledged", "paused", "acknowledged", "resolved",
    ]  # fmt: skip


async def test_database_down_is_503_and_nothing_is_half_written(start_service, databases):
    url = await databases.create("intake")
    target = make_url(url)
    proxy = await TcpProxy(target.host, target.port).start()
    proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
    process = await start_service("intake", database_url=proxied)
    key = f"outage-{uuid.uuid4()}"
    body = complaint()
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        assert (await client.post("/complaints", json=complaint(), headers=WEB)).status_code == 201
        await proxy.cut()
        during = await client.post("/complaints", json=body, headers=WEB | {"Idempotency-Key": key})
        assert during.status_code == 503, during.text
        assert during.headers["Retry-After"]
        assert (await client.get("/readyz")).status_code == 503
        await proxy.start()
        after = None
        for _ in range(50):
            after = await client.post(
                "/complaints", json=body, headers=WEB | {"Idempotency-Key": key}
            )
            if after.status_code == 201:
                break
            await asyncio.sleep(0.2)
        assert after is not None and after.status_code == 201
        assert after.headers.get("Idempotent-Replayed") is None  # the failed try left no trace
    engine = create_engine(url)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM complaints")) == 2
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 2
        assert await conn.scalar(sa.text("SELECT count(*) FROM complaint_status_history")) == 2
    await engine.dispose()
    await proxy.cut()


async def test_kafka_down_still_takes_complaints_and_loses_no_event(start_service, topics):
    kafka = DisposableKafka()
    kafka.start()
    try:
        await ensure_topics(kafka.bootstrap, topics.all(), partitions=3)
        process = await start_service(
            "intake", KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap, INTAKE_OUTBOX_POLL_SECONDS="0.2"
        )
        ids: list[str] = []
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:

            async def post(n: int) -> None:
                for _ in range(n):
                    response = await client.post("/complaints", json=complaint(), headers=WEB)
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["complaint_id"])

            await post(5)
            kafka.stop()
            await post(10)  # the broker is down: still recorded and answered
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/readyz", params={"only": "database"})).status_code == 200
            kafka.start()
            await post(5)
        seen = await read_until(
            kafka.bootstrap,
            topics.intake,
            lambda kept: {r.key for r in kept} >= set(ids),
            lambda r: r.key in ids,
            timeout=90,
        )
        assert {r.key for r in seen} == set(ids)
        assert all(r.value["type"] == "complaint.received" for r in seen)
    finally:
        kafka.destroy()


async def test_health_endpoints(intake):
    assert (await intake.get("/healthz")).json() == {"status": "ok"}
    ready = await intake.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "kafka": "ok"}
    narrowed = await intake.get("/readyz", params={"only": "database"})
    assert narrowed.json() == {"status": "ready", "database": "ok"}
    metrics = (await intake.get("/metrics")).text
    assert "outbox_published_total" in metrics and "http_request_duration_seconds" in metrics
