"""Deleting a test run's own topics when it ends: the local broker keeps every partition's
files open, and runs that left their topics behind exhaust its file descriptors."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with ``prefix`` (best effort: a broker that is
    down at teardown only leaves them for the next sweep)."""
    if not prefix:
        raise ValueError("refusing to delete every topic: empty prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    with contextlib.suppress(KafkaError, OSError):
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if names:
                await admin.delete_topics(names, timeout_ms=30_000)
        finally:
            await admin.close()
