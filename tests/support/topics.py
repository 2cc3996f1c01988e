"""Deleting a test run's own topics when it ends: the local broker keeps every partition's
files open, and runs that left their topics behind exhaust its file descriptors. Those a
killed run left: ``make clean-topics`` (``python -m tests.support.topics``)."""

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


# The prefixes test sessions (tests/conftest.py) and benchmarks (bench/) name their topics by.
RUN_PREFIXES = ("test-", "bench-")


async def leftover_topics(bootstrap: str) -> list[str]:
    """Topics of test and benchmark runs still on the broker: a run killed before its
    teardown leaves them. They cost the broker CPU and file descriptors, and so skew the
    benchmarks' figures."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(RUN_PREFIXES))
    finally:
        await admin.close()


async def sweep(bootstrap: str, batch: int = 100) -> int:
    """Delete the leftovers of earlier runs (``make clean-topics``: not while tests or
    benchmarks run, their topics have the same prefixes); returns how many."""
    names = await leftover_topics(bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        for start in range(0, len(names), batch):
            await admin.delete_topics(names[start : start + batch], timeout_ms=30_000)
            print(f"  deleted {min(start + batch, len(names))}/{len(names)} topics", flush=True)
    finally:
        await admin.close()
    return len(names)


if __name__ == "__main__":
    import asyncio
    import os

    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    print(f"deleted {asyncio.run(sweep(kafka))} topics left by earlier test and bench runs")
