"""Notify figures: how fast complaints become delivered e-mails (Kafka -> consumer -> messages
table -> delivery worker -> SMTP) and how long each takes from its event to the SMTP server's
"250". One in-process replica on a fresh database and its own topics, the project's mail
catcher (aiosmtpd, writing .eml files) as the SMTP server; loopback only.

``BENCH_NOTIFY_COMPLAINTS`` (default 1000) sets the size."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from bench._db import KAFKA, async_url, scratch_database
from services.notify.app import create_app
from services.notify.settings import NotifySettings
from shared.events.common import Channel, Mode, Severity
from shared.events.envelope import new_event
from shared.events.intake import ComplaintReceived, Customer
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.processes import free_port

COMPLAINTS = int(os.environ.get("BENCH_NOTIFY_COMPLAINTS", "1000"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if values else 0.0


def received(i: int):
    complaint = uuid.uuid4()
    now = datetime.now(UTC)
    data = ComplaintReceived(
        complaint_id=complaint, received_at=now, channel=Channel.WEB, mode=Mode.REMOTE,
        category="product_quality", severity=Severity.GENERAL, severity_reasons=[],
        customer=Customer(name="李娜", email=f"c{i}@example.test"), description="洗衣机漏水",
        information_complete=True, acknowledge_by=now,
    )  # fmt: skip
    return new_event("/bench/intake", str(complaint), data)


async def measure() -> None:
    topics = Topics(f"bench-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=6)
    folder = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    port = free_port()
    # The SMTP server in a process of its own, as it would be (not competing for this GIL).
    sink = subprocess.Popen(  # noqa: ASYNC220 (started once, before measuring)
        [sys.executable, "-m", "services.notify.mailcatcher", "--port", str(port), "--dir",
         str(folder)], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1.5)
    async with scratch_database("notify") as dsn:
        settings = NotifySettings(
            database_url=async_url(dsn),
            kafka_bootstrap_servers=KAFKA,
            kafka_topic_prefix=topics.prefix,
            smtp_port=port,
            webhook_secret="bench",
            outbox_poll_seconds=0.2,
        )
        app = create_app(settings)
        events = [received(i) for i in range(COMPLAINTS)]
        async with app.router.lifespan_context(app):
            producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5)
            await producer.start()
            produced: dict[str, float] = {}
            started = time.time()
            try:
                for event in events:
                    produced[event.subject] = time.time()
                    await producer.send(topics.intake, event.to_bytes(), key=event.key)
                await producer.flush()
            finally:
                await producer.stop()
            conn = await asyncpg.connect(dsn)
            try:
                while True:
                    sent = await conn.fetchval("SELECT count(*) FROM messages WHERE status='sent'")
                    if sent >= COMPLAINTS:
                        break
                    await asyncio.sleep(0.2)
                elapsed = time.time() - started
                rows = await conn.fetch("SELECT complaint_id, created_at, sent_at FROM messages")
            finally:
                await conn.close()
            await app.state.worker.close()
    sink.terminate()
    sink.wait(5)
    latencies = [r["sent_at"].timestamp() - produced[str(r["complaint_id"])] for r in rows]
    written = [r["created_at"].timestamp() - produced[str(r["complaint_id"])] for r in rows]
    last_written = max(r["created_at"].timestamp() for r in rows) - started
    print(
        f"notify: {COMPLAINTS} complaint.received -> {len(rows)} e-mails delivered in "
        f"{elapsed:.1f}s = {COMPLAINTS / elapsed:.0f} mails/s "
        f"({settings.delivery_workers} delivery lanes, one replica)"
    )
    print(
        f"notify: event produced -> SMTP accepted: p50 {pct(latencies, 50) * 1000:.0f} ms, "
        f"p99 {pct(latencies, 99) * 1000:.0f} ms (a burst: the queue drains); written to "
        f"the messages table p50 {pct(written, 50) * 1000:.0f} ms, all {last_written:.1f}s"
    )


def run() -> None:
    asyncio.run(measure())
