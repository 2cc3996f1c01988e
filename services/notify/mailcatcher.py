"""A development mail catcher: an SMTP server (aiosmtpd) that writes every mail it is given
to a folder as an ``.eml`` file, so a newcomer can watch the messages go out; and, with
``--hooks-port``, an HTTP receiver for the signed webhooks and the SMS gateway that writes
each POST to ``<dir>/hooks/`` as JSON (with its path and signature header).

``python -m services.notify.mailcatcher [--host 127.0.0.1] [--port 8025] [--dir .local/mail]
[--hooks-port 8026]``
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MailFolder:
    """The aiosmtpd handler: each accepted mail becomes ``<time>-<template>-<id>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        template = "mail"
        for line in raw.split(b"\r\n\r\n", 1)[0].splitlines():
            if line.lower().startswith(b"x-template:"):
                template = _UNSAFE.sub("_", line.split(b":", 1)[1].strip().decode(errors="replace"))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        path = self.folder / f"{stamp}-{template}-{uuid.uuid4().hex[:8]}.eml"
        with self._lock:
            path.write_bytes(raw)
        return "250 Message accepted for delivery"


class _HookHandler(BaseHTTPRequestHandler):
    folder: Path

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        record = {"path": self.path, "signature": self.headers.get("X-Signature"),
                  "message_id": self.headers.get("X-Message-Id"), "body": payload}  # fmt: skip
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        name = _UNSAFE.sub("_", self.path.strip("/")) or "hook"
        path = self.folder / f"{stamp}-{name}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def start_hooks(host: str, port: int, folder: Path) -> ThreadingHTTPServer:
    """Webhooks and SMS-gateway posts, each written to ``folder`` (not verified: this is a
    window for developers, the tests check signatures)."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = type("HookHandler", (_HookHandler,), {"folder": folder})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start(host: str, port: int, folder: Path) -> Controller:
    controller = Controller(MailFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.notify.mailcatcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".local/mail"))
    parser.add_argument("--hooks-port", type=int, default=None)
    args = parser.parse_args(argv)
    controller = start(args.host, args.port, args.dir)
    print(f"mail catcher: smtp://{args.host}:{args.port} -> {args.dir.resolve()}", flush=True)
    if args.hooks_port:
        start_hooks(args.host, args.hooks_port, args.dir / "hooks")
        print(
            f"webhook catcher: http://{args.host}:{args.hooks_port}/... -> "
            f"{(args.dir / 'hooks').resolve()}",
            flush=True,
        )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
