"""Reading the platform's topics as any downstream consumer would: a plain aiokafka consumer,
no group, from the beginning."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, bytes]
    value: dict[str, Any]


async def read_until(
    bootstrap: str,
    topic: str,
    done: Callable[[list[Record]], bool],
    match: Callable[[Record], bool] = lambda r: True,
    timeout: float = 30.0,
) -> list[Record]:
    """Read ``topic`` from the start, keeping records that ``match``, until ``done(kept)``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    kept: list[Record] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(kept):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{topic}: condition not met in {timeout}s; got {len(kept)} records"
                )
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for r in records:
                    record = Record(
                        r.topic,
                        r.partition,
                        r.offset,
                        r.key.decode() if r.key is not None else None,
                        {k: v for k, v in (r.headers or [])},
                        _decode(r.value),
                    )
                    if match(record):
                        kept.append(record)
        return kept
    finally:
        await consumer.stop()


async def events_for(
    bootstrap: str, topic: str, key: str, count: int, timeout: float = 30.0
) -> list[Record]:
    """The first ``count`` records with ``key``."""
    return await read_until(
        bootstrap, topic, lambda kept: len(kept) >= count, lambda r: r.key == key, timeout
    )


def _decode(value: bytes | None) -> dict[str, Any]:
    try:
        return json.loads(value) if value else {}
    except ValueError:
        return {"_raw": value}
