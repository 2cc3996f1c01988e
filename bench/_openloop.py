"""Open-loop load: complaints are sent on a fixed schedule whatever the answers (a slow server
does not slow the client down, so its latency is not hidden), and a reader of the handling
topic notes when each complaint's ``case.opened`` arrives.

Latencies count from the scheduled send time, so a client falling behind its schedule shows
as latency, not as a lower rate; the schedule lag is measured too, with the client's own CPU,
to tell whether the generator itself was the bottleneck."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from bench._db import KAFKA

CONNECTIONS = int(os.environ.get("BENCH_E2E_CONNECTIONS", "512"))
REQUEST_TIMEOUT = float(os.environ.get("BENCH_E2E_REQUEST_TIMEOUT", "30"))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Step:
    rate: float
    seconds: float
    offered: int = 0
    accepted: int = 0
    shed: int = 0  # 503 answers: refused at once, nothing written
    errors: Counter[str] = field(default_factory=Counter)
    post_ms: list[float] = field(default_factory=list)  # accepted requests only
    shed_ms: list[float] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)  # complaint id -> scheduled time
    send_lag_ms: list[float] = field(default_factory=list)
    generator_cpu: float = 0.0  # this process's CPU seconds over the step
    wall: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def opened_ms(self, seen: dict[str, float]) -> list[float]:
        return [(seen[c] - t) * 1000 for c, t in self.sent_at.items() if c in seen]

    def unopened(self, seen: dict[str, float]) -> int:
        return sum(1 for c in self.sent_at if c not in seen)


class OpenedReader:
    """Reads the handling topic from its end (as of ``start``) and notes the arrival time
    (``time.perf_counter``: uvloop's own clock counts whole milliseconds) of each complaint's
    ``case.opened``."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.seen: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=KAFKA, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        while not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(self.topic)
        tps = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)  # resolve now: nothing published later is missed
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=200)
            except KafkaError as exc:  # said, not fatal: the figures would silently go
                print(f"  case.opened reader: {exc!r}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.5)
                continue
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    # A cheap look before parsing: most events on the topic are not this one.
                    if record.value and b'"case.opened"' in record.value:
                        event = orjson.loads(record.value)
                        if event.get("type") == "case.opened":
                            self.seen.setdefault(event["subject"], now)

    async def wait_for(self, ids: list[str], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._task is not None and self._task.done():
                self._task.result()  # the reader failed: raise why
            if all(c in self.seen for c in ids):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


def client_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


async def offer(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: Callable[[int], dict],
    rate: float,
    seconds: float,
    first: int = 0,
) -> Step:
    """Send ``rate`` complaints a second for ``seconds``, then wait for every answer."""
    step = Step(rate, seconds)
    headers = headers | {"Content-Type": "application/json"}
    payloads = [orjson.dumps(body(first + i)) for i in range(int(rate * seconds))]
    pending: set[asyncio.Task] = set()

    async def one(payload: bytes, due: float) -> None:
        try:
            async with session.post(url, data=payload, headers=headers) as response:
                raw = await response.read()
                took = (time.perf_counter() - due) * 1000
                if response.status == 201:
                    step.accepted += 1
                    step.post_ms.append(took)
                    step.sent_at[orjson.loads(raw)["complaint_id"]] = due
                elif response.status == 503:
                    step.shed += 1
                    step.shed_ms.append(took)
                else:
                    step.errors[str(response.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            step.errors[type(exc).__name__] += 1

    cpu, wall = time.process_time(), time.perf_counter()
    start = time.perf_counter() + 0.05
    for i, payload in enumerate(payloads):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        step.send_lag_ms.append(max(0.0, time.perf_counter() - due) * 1000)
        task = asyncio.create_task(one(payload, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        step.offered += 1
    if pending:
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT + 5)
    step.generator_cpu = time.process_time() - cpu
    step.wall = time.perf_counter() - wall
    return step
