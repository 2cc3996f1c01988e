"""Satisfaction: how fast answers are ingested from Kafka, and how fast GET /reports/summary
answers over a million answers.

Ingest: a real service process on a fresh database and its own topics; N complaints'
complaint.received, then N survey.recorded on the topics; answers/s from the inbox times of
the first and last answer (the consumer's own pace, not start-up). Reports: a second fresh
database whose rollups hold one million synthetic answers over a year (5 channels,
8 categories, 2 severities, 5 tiers, 6 escalation levels), bulk-loaded with SQL the way the
incremental rollups would sum them; then sequential GETs against a real service process.

BENCH_SATISFACTION_INGEST (default 3000), BENCH_SATISFACTION_ANSWERS (default 1000000),
BENCH_SATISFACTION_REQUESTS (default 200 per query)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench._db import KAFKA, scratch_database
from services.satisfaction.domain.contribution import COUNTERS
from services.satisfaction.rebuild import rebuild
from services.satisfaction.settings import SatisfactionSettings
from shared.events.common import Channel, Mode, SatisfactionLevel, Severity, Tier
from shared.events.envelope import new_event
from shared.events.intake import ComplaintReceived, Customer
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.processes import free_port
from tests.support.servers import ROOT

INGEST = int(os.environ.get("BENCH_SATISFACTION_INGEST", "3000"))
ANSWERS = int(os.environ.get("BENCH_SATISFACTION_ANSWERS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_SATISFACTION_REQUESTS", "200"))


BENCH_TOKEN = "bench-supervisor-token-0123456789"  # reports and dashboard need staff


def start_service(dsn: str, prefix: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {
        "SATISFACTION_DATABASE_URL": dsn,
        "SATISFACTION_PORT": str(port),
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "KAFKA_TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
        "SATISFACTION_ALERT_CHECK_SECONDS": "3600",
        "OPS_TOKENS": f"duty-wang:{BENCH_TOKEN}",  # a supervisor of the staff directory
    }
    os.makedirs(os.path.join(ROOT, ".local"), exist_ok=True)
    with open(os.path.join(ROOT, ".local", "bench-satisfaction.log"), "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.satisfaction"], cwd=ROOT, env=env,
            stdout=log, stderr=log,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the satisfaction service did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


async def ingest(dsn: str) -> None:
    topics = Topics(f"bench-sat-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=6)
    proc, _ = start_service(dsn, topics.prefix)
    conn = await asyncpg.connect(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5)
    await producer.start()
    try:
        now = datetime.now(UTC)
        channels, tiers = list(Channel), list(Tier)
        levels = list(SatisfactionLevel)
        ids = [uuid.uuid4() for _ in range(INGEST)]
        for i, cid in enumerate(ids):
            data = ComplaintReceived(
                complaint_id=cid, received_at=now, channel=channels[i % 5], mode=Mode.REMOTE,
                category="billing", severity=Severity.GENERAL, severity_reasons=[],
                customer=Customer(name="n", phone="1", tier=tiers[i % 5]), description="d",
                information_complete=True, acknowledge_by=now,
            )  # fmt: skip
            await producer.send(topics.intake, new_event("/b", str(cid), data).to_bytes(),
                                key=str(cid).encode())  # fmt: skip
        await producer.flush()
        await _wait_count(conn, "complaint.received", INGEST)
        started = time.perf_counter()
        for i, cid in enumerate(ids):
            level = levels[i % 6]
            data = SurveyRecorded(
                complaint_id=cid, survey_id=None, cycle=1, level=level, score=level.score,
                factors=["speed", "attitude"][: 1 + i % 2], comment="评论", taken_by="customer",
                recorded_at=now,
            )  # fmt: skip
            await producer.send(topics.satisfaction, new_event("/b", str(cid), data).to_bytes(),
                                key=str(cid).encode())  # fmt: skip
        await producer.flush()
        await _wait_count(conn, "survey.recorded", INGEST)
        wall = time.perf_counter() - started
        first, last = await conn.fetchrow(
            "SELECT min(processed_at), max(processed_at) FROM inbox "
            "WHERE event_type = 'survey.recorded'"
        )
        pace = (INGEST - 1) / max((last - first).total_seconds(), 1e-6)
        print(f"ingest: {INGEST} answers from Kafka, each joined with its complaint's facts and "
              f"rolled up into 6 dimensions")  # fmt: skip
        print(f"  consumer pace:       {pace:8.0f} answers/s (first to last answer processed)")
        print(f"  publish-to-rolled-up {INGEST / wall:8.0f} answers/s ({wall:.1f} s wall)")
        stop(proc)
        rolled = await conn.fetch("SELECT * FROM rollup_daily ORDER BY day, dimension, value")
        settings = SatisfactionSettings(
            database_url=dsn, kafka_bootstrap_servers=KAFKA, kafka_topic_prefix=topics.prefix
        )
        started = time.perf_counter()
        applied = await rebuild(settings)
        seconds = time.perf_counter() - started
        again = await conn.fetch("SELECT * FROM rollup_daily ORDER BY day, dimension, value")
        same = nonzero(rolled) == nonzero(again)
        print(f"  rebuild from the topics: {applied} events in {seconds:.1f} s = "
              f"{applied / seconds:.0f} events/s; rollups identical: {same}")  # fmt: skip
    finally:
        await producer.stop()
        await conn.close()
        stop(proc)


def nonzero(rows: list[asyncpg.Record]) -> list[tuple]:
    """Rows whose increments cancelled out (counted as "unknown" until facts came) say nothing."""
    return [tuple(r) for r in rows if any(r[3:])]


async def _wait_count(conn: asyncpg.Connection, event_type: str, n: int, timeout=600) -> None:
    deadline = time.monotonic() + timeout
    while await conn.fetchval("SELECT count(*) FROM inbox WHERE event_type = $1", event_type) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{event_type}: not all {n} processed")
        await asyncio.sleep(0.2)


DIMENSIONS = {
    "all": "'all'",
    "channel": "channel",
    "category": "category",
    "severity": "severity",
    "tier": "tier",
    "escalation_level": "level",
}


def bulk_sql(first_day: date, days: int) -> list[str]:
    """One synthetic answer per complaint: received, resolved, asked and answered on its day;
    every fourth complaint has one more survey request left unanswered."""
    g = f"""
    CREATE UNLOGGED TABLE g AS
    SELECT i,
      DATE '{first_day.isoformat()}' + (i % {days}) AS day,
      (ARRAY['web','hotline','email','counter','letter'])[1 + (i * 7) % 5] AS channel,
      (ARRAY['product_quality','service_attitude','delivery','billing','installation',
             'safety','environment','other'])[1 + (i * 13) % 8] AS category,
      CASE WHEN i % 17 = 0 THEN 'major' ELSE 'general' END AS severity,
      (ARRAY['VIP','A','B','C','D'])[1 + (i * 11) % 5] AS tier,
      (ARRAY['frontline','frontline','frontline','team_lead','supervisor',
             'customer_relations'])[1 + (i * 3) % 6] AS level,
      (ARRAY[6,6,6,6,5,5,5,4,4,3,2,1])[1 + (i * 31) % 12] AS score,
      (i % 10) < 8 AS met,
      (60 + (i::bigint * 7919) % 259200)::float AS seconds,
      (ARRAY['speed','attitude','solution','compensation','communication'])[1 + i % 5] AS f1,
      CASE WHEN i % 3 = 0 THEN 'follow_up' END AS f2
    FROM generate_series(1, {ANSWERS}) AS i
    """
    columns = ", ".join(COUNTERS)
    levels = ", ".join(f"count(*) FILTER (WHERE score = {s})" for s in range(6, 0, -1))
    met = ", ".join(f"count(*) FILTER (WHERE met AND score = {s})" for s in range(6, 0, -1))
    missed = ", ".join(f"count(*) FILTER (WHERE NOT met AND score = {s})" for s in range(6, 0, -1))
    values = (
        "count(*), count(*) FILTER (WHERE i % 13 = 0), count(*), count(*) FILTER (WHERE met), "
        "count(*), count(*) FILTER (WHERE met), count(*), sum(round(seconds * 1000))::bigint, "
        # resolved in their 1st cycle, or (the reopened ones) in their 2nd; none later
        "count(*) FILTER (WHERE i % 13 <> 0), count(*) FILTER (WHERE i % 13 = 0), 0, 0, "
        f"count(*) + count(*) FILTER (WHERE i % 4 = 0), count(*), {levels}, {met}, {missed}"
        # the handling figures' counters (expectation, rejections, waits, open breaches): none
        + ", 0"
        * (len(COUNTERS) - COUNTERS.index("same_l6"))
    )
    bucket = "round(seconds / 10 ^ (floor(log(seconds)) - 1)) * 10 ^ (floor(log(seconds)) - 1)"
    out = ["DROP TABLE IF EXISTS g", g]
    for dim, expr in DIMENSIONS.items():
        by = "" if dim == "all" else f", {expr}"
        out.append(
            f"INSERT INTO rollup_daily (day, dimension, value, {columns}) "
            f"SELECT day, '{dim}', {expr}, {values} FROM g GROUP BY day{by}"
        )
        out.append(
            "INSERT INTO rollup_resolve (day, dimension, value, bucket, count) "
            f"SELECT day, '{dim}', {expr}, {bucket} AS b, count(*) FROM g "
            f"GROUP BY day{by}, b"
        )
        out.append(
            "INSERT INTO rollup_factors (day, dimension, value, factor, score, count) "
            f"SELECT day, '{dim}', {expr}, f, score, count(*) FROM "
            "(SELECT *, f1 AS f FROM g UNION ALL SELECT *, f2 FROM g WHERE f2 IS NOT NULL) x "
            f"GROUP BY day{by}, f, score"
        )
    out.append(
        "INSERT INTO rollup_resolve_month (month, dimension, value, bucket, count) "
        "SELECT date_trunc('month', day)::date, dimension, value, bucket, sum(count) "
        "FROM rollup_resolve GROUP BY 1, 2, 3, 4"
    )
    out += ["DROP TABLE g", "VACUUM ANALYZE"]
    return out


async def reports(dsn: str) -> None:
    topics = Topics(f"bench-sat-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=1)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=364)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for statement in bulk_sql(first, 365):
            await conn.execute(statement)
        rows = await conn.fetchval("SELECT count(*) FROM rollup_daily")
        hist = await conn.fetchval("SELECT count(*) FROM rollup_resolve")
        factors = await conn.fetchval("SELECT count(*) FROM rollup_factors")
        total = await conn.fetchval(
            "SELECT sum(l1 + l2 + l3 + l4 + l5 + l6) FROM rollup_daily WHERE dimension = 'all'"
        )
    finally:
        await conn.close()
    print(f"reports: {int(total)} answers over 365 days bulk-loaded in "
          f"{time.perf_counter() - started:.0f} s: rollup rows daily {rows}, "
          f"time-to-resolve {hist}, factors {factors}")  # fmt: skip
    proc, url = start_service(dsn, topics.prefix)
    year = {"from": str(first), "to": str(today)}
    queries = [
        ("summary, last 30 days (default)", "/reports/summary", {}),
        ("summary, one year", "/reports/summary", year),
        ("summary, one year by channel", "/reports/summary", year | {"group_by": "channel"}),
        ("summary, one year by category", "/reports/summary", year | {"group_by": "category"}),
        ("summary, one year by esc. level", "/reports/summary",
         year | {"group_by": "escalation_level"}),
        ("trend, one year by week", "/reports/trend", year | {"interval": "week"}),
        ("dashboard, last 30 days", "/dashboard/view", {}),
    ]  # fmt: skip
    try:
        staff = {"Authorization": f"Bearer {BENCH_TOKEN}"}
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=staff) as http:
            check = (await http.get("/reports/summary", params=year)).json()["overall"]
            assert check["answers"] == ANSWERS, check["answers"]
            rate = check["satisfaction_rate"]["value"]
            p90 = check["p90_time_to_resolve_seconds"]["value"]
            print(f"  (one-year satisfaction rate {rate:.3f}, p90 time to resolve {p90:.0f} s)")
            for label, path, params in queries:
                for _ in range(5):  # warm up
                    await http.get(path, params=params)
                latencies = []
                for _ in range(REQUESTS):
                    t0 = time.perf_counter()
                    answer = await http.get(path, params=params)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200, answer.text
                latencies.sort()
                p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
                print(f"  GET {label:34s} p50 {statistics.median(latencies):7.1f} ms   "
                      f"p99 {p99:7.1f} ms   ({REQUESTS} sequential requests)")  # fmt: skip
    finally:
        stop(proc)


async def main() -> None:
    async with scratch_database("satisfaction") as dsn:
        await ingest(dsn)
    async with scratch_database("satisfaction") as dsn:
        await reports(dsn)


def run() -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()
