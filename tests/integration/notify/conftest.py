"""Fixtures of notify's integration tests: the real receivers (receivers.py), a notify
replica in this process and topics of each test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.notify.app import create_app
from services.notify.settings import NotifySettings
from shared.directory import DEMO_DIRECTORY
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.integration.notify.receivers import MailSink, Receiver, serving
from tests.support.identity import auth_settings, bearer
from tests.support.processes import free_port

WEBHOOK_SECRET = "it-webhook-secret"
SUPERVISOR = bearer("duty-wang")


@pytest.fixture
def mail_sink(tmp_path: Path):
    sink = MailSink(tmp_path / "mail", free_port()).start()
    yield sink
    sink.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving(Receiver(WEBHOOK_SECRET.encode())) as found:
        yield found


# ---- the service --------------------------------------------------------------------------


@pytest.fixture
async def own_topics(servers, topics) -> Topics:
    """Topics of this test alone: a fresh consumer group reads from the start, and should
    see no other test's complaints."""
    found = Topics(f"{topics.prefix}n{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=2)
    return found


@pytest.fixture
def directory_file(tmp_path: Path, receiver: Receiver) -> Path:
    """The demo directory with its webhooks pointing at the test's receiver."""
    text = DEMO_DIRECTORY.read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:8026", receiver.url)
    path = tmp_path / "staff.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Clock:
    """Time as the test says: the quiet-hours test moves it instead of waiting for morning."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@asynccontextmanager
async def notify_replica(
    servers,
    topics: Topics,
    database_url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A notify replica in this process (consumer, delivery worker, relay), its API through
    ASGI. Settings default to quick retries."""
    values: dict[str, Any] = dict(
        database_url=database_url,
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        kafka_topic_prefix=topics.prefix,
        consumer_group=f"notify-{uuid.uuid4().hex[:6]}",
        webhook_secret=WEBHOOK_SECRET,
        outbox_poll_seconds=0.2,
        delivery_backoff_seconds=0.05,
        delivery_backoff_max_seconds=0.2,
        delivery_max_attempts=3,
        delivery_max_sleep_seconds=0.5,
        db_pool_size=6,
        **auth_settings(),
    )
    settings = NotifySettings(**(values | overrides))
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
        await app.state.worker.close()


async def produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()
