"""A development mail catcher: an SMTP server (aiosmtpd) that writes every mail it is given
to a folder as an ``.eml`` file, so a newcomer can watch the messages go out.

``python -m services.notify.mailcatcher [--host 127.0.0.1] [--port 8025] [--dir .local/mail]``
"""

from __future__ import annotations

import argparse
import re
import threading
import time
import uuid
from datetime import UTC, datetime
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


def start(host: str, port: int, folder: Path) -> Controller:
    controller = Controller(MailFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.notify.mailcatcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".local/mail"))
    args = parser.parse_args(argv)
    controller = start(args.host, args.port, args.dir)
    print(f"mail catcher: smtp://{args.host}:{args.port} -> {args.dir.resolve()}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
