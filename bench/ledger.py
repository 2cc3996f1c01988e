"""Ledger figures: how fast the other services' events become ledger rows (Kafka -> consumer
-> database), a page of the ledger, the whole ledger as CSV and as a spreadsheet, and a
summary on demand. One in-process replica (relay, consumer, schedules, timers and the API
through ASGI) on a fresh database and its own topics; loopback only.

``BENCH_LEDGER_COMPLAINTS`` (default 2000; seven events each, a survey for half) sets the
size."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench._db import KAFKA, async_url, scratch_database
from services.ledger.app import create_app
from services.ledger.settings import LedgerSettings
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics

COMPLAINTS = int(os.environ.get("BENCH_LEDGER_COMPLAINTS", "2000"))
try:  # staff identities as JWTs where the identity work is present
    from tests.support.identity import as_role, auth_settings

    AUTH, AGENT, SUPERVISOR = auth_settings(), as_role("agent"), as_role("supervisor")
except ImportError:
    AUTH = {"ops_tokens": "agent:bench-agent,supervisor:bench-supervisor"}
    AGENT = {"Authorization": "Bearer bench-agent"}
    SUPERVISOR = {"Authorization": "Bearer bench-supervisor"}


def _event(kind: str, cid: uuid.UUID, data: dict) -> Envelope:
    return Envelope(
        source="/bench", type=kind, subject=str(cid), data={"complaint_id": str(cid), **data}
    )


def events_of(n: int, now: datetime) -> list[tuple[str, Envelope]]:
    cid = uuid.uuid4()
    at = now - timedelta(minutes=n)
    t = lambda minutes: (at + timedelta(minutes=minutes)).isoformat()  # noqa: E731
    site, by = f"store-{n % 7}", f"p-{n % 13}"
    found = [
        (
            "intake",
            _event(
                "complaint.received",
                cid,
                {
                    "received_at": t(0),
                    "channel": ["web", "hotline", "counter"][n % 3],
                    "category": ["product_quality", "delivery", "billing"][n % 3],
                    "severity": "general",
                    "customer": {"id": f"c-{n % 500}", "tier": "B"},
                    "subject": {"kind": "site", "reference": site},
                },
            ),
        ),
        (
            "handling",
            _event(
                "case.assigned",
                cid,
                {"at": t(1), "team": f"{site}-floor", "rung": "frontline", "reason": "opened"},
            ),
        ),
        ("handling", _event("case.acknowledged", cid, {"at": t(2), "by": by})),
        ("handling", _event("case.investigated", cid, {"at": t(3), "by": by, "findings": "f"})),
        ("handling", _event("case.plan_recorded", cid, {"at": t(4), "by": by, "plan": "p"})),
        (
            "handling",
            _event(
                "case.resolved",
                cid,
                {
                    "at": t(5),
                    "by": by,
                    "round": 1,
                    "resolution": "r",
                    "clocks_met": {"acknowledge": n % 10 != 0},
                },
            ),
        ),
    ]
    if n % 2 == 0:
        found.append(
            (
                "satisfaction",
                _event(
                    "survey.recorded",
                    cid,
                    {
                        "level": "satisfied",
                        "score": 5,
                        "factors": [],
                        "recorded_at": t(6),
                        "cycle": 1,
                    },
                ),
            )
        )
    return found


async def bench() -> None:
    topics = Topics(f"bench-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=6)
    now = datetime.now(UTC)
    records = [r for n in range(COMPLAINTS) for r in events_of(n, now)]
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(getattr(topics, topic), item.to_bytes(), key=item.key)
            for topic, item in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    print(f"{len(records)} events of {COMPLAINTS} complaints on the topics")
    async with scratch_database("ledger") as dsn:
        settings = LedgerSettings(
            database_url=async_url(dsn),
            kafka_bootstrap_servers=KAFKA,
            kafka_topic_prefix=topics.prefix,
            log_level="WARNING",
            **AUTH,
        )
        app = create_app(settings)
        conn = await asyncpg.connect(dsn)
        started = time.monotonic()
        async with app.router.lifespan_context(app):
            while True:
                done = await conn.fetchval(
                    "SELECT count(*) FROM ledger_entries WHERE status = 'resolved' "
                    "AND received_at IS NOT NULL AND team IS NOT NULL"
                )
                answered = await conn.fetchval(
                    "SELECT count(*) FROM ledger_entries WHERE satisfaction <> '[]'::jsonb"
                )
                if done == COMPLAINTS and answered == (COMPLAINTS + 1) // 2:
                    break
                await asyncio.sleep(0.2)
            took = time.monotonic() - started
            print(f"ingest: {len(records)} events in {took:.1f}s ({len(records) / took:.0f}/s)")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://l") as http:
                pages = []
                for _ in range(30):
                    t0 = time.perf_counter()
                    answer = await http.get("/ledger", params={"limit": 100}, headers=AGENT)
                    pages.append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200
                print(f"GET /ledger (100 rows): p50 {statistics.median(pages):.0f} ms")
                for path in ("/ledger.csv", "/ledger.xlsx"):
                    t0 = time.perf_counter()
                    answer = await http.get(path, headers=AGENT)
                    ms = (time.perf_counter() - t0) * 1000
                    print(
                        f"GET {path} ({COMPLAINTS} rows, {len(answer.content) / 1e6:.1f} MB): "
                        f"{ms:.0f} ms"
                    )
                t0 = time.perf_counter()
                answer = await http.post(
                    "/summaries",
                    headers=SUPERVISOR,
                    json={"period": "quarter", "start": str(now.date())},
                )
                assert answer.status_code == 201, answer.text
                print(
                    f"POST /summaries (quarter, {answer.json()['figures']['complaints']} "
                    f"complaints): {(time.perf_counter() - t0) * 1000:.0f} ms"
                )
        await conn.close()


def run() -> None:
    asyncio.run(bench())
