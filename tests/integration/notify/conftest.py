"""Real receivers for notify's messages: an SMTP server (the project's aiosmtpd mail catcher,
writing .eml files) and an HTTP server (uvicorn) that records webhook and SMS-gateway posts
and checks their signatures. Plus a notify replica in this process and its own topics."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer

from services.notify import mailcatcher
from services.notify.app import create_app
from services.notify.domain.signature import verify
from services.notify.settings import NotifySettings
from shared.directory import DEMO_DIRECTORY
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.identity import auth_settings, bearer
from tests.support.processes import free_port
from tests.support.waiting import eventually

WEBHOOK_SECRET = "it-webhook-secret"
SUPERVISOR = bearer("duty-wang")


# ---- the SMTP sink ----------------------------------------------------------------------------


@dataclass
class MailSink:
    """The mail catcher on a port of its own; ``mails()`` parses what it wrote."""

    folder: Path
    port: int
    controller: Any = None

    def start(self) -> MailSink:
        self.controller = mailcatcher.start("127.0.0.1", self.port, self.folder)
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def mails(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for path in sorted(self.folder.glob("*.eml"))
        ]

    def for_complaint(self, complaint_id: uuid.UUID | str, template: str | None = None):
        return [
            m
            for m in self.mails()
            if m["X-Complaint-Id"] == str(complaint_id)
            and (template is None or m["X-Template"] == template)
        ]


@pytest.fixture
def mail_sink(tmp_path: Path):
    sink = MailSink(tmp_path / "mail", free_port()).start()
    yield sink
    sink.stop()


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


# ---- the HTTP receiver ------------------------------------------------------------------------


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Webhooks and the SMS gateway: records each POST with whether its signature verifies
    against the shared secret; ``fail_next`` answers errors for a while."""

    secret: bytes
    port: int = field(default_factory=free_port)
    posted: list[Posted] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ok = verify(self.secret, headers.get("x-signature", ""), body, int(time.time()))
        self.posted.append(Posted(scope["path"], headers, body, ok))
        await send({"type": "http.response.start", "status": 204 if ok else 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def at(self, path: str) -> list[Posted]:
        return [p for p in self.posted if p.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver(WEBHOOK_SECRET.encode())
    server = uvicorn.Server(
        uvicorn.Config(found, host="127.0.0.1", port=found.port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, interval=0.05)
    yield found
    server.should_exit = True
    await task


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
