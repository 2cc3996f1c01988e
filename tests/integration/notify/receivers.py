"""Real receivers of notify's messages, for the integration and end-to-end tests: an SMTP
server (the project's aiosmtpd mail catcher, writing .eml files) and an HTTP server (uvicorn)
that records webhook and SMS-gateway posts and checks their signatures."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import uvicorn

from services.notify import mailcatcher
from services.notify.domain.signature import verify
from tests.support.processes import free_port
from tests.support.waiting import eventually

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


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=receiver.port, lifespan="off", log_config=None
        )
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, interval=0.05)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
