"""The platform as real processes for the end-to-end benchmarks: each service on a fresh
scratch database (migrated by the service itself at start, as in production), all on this
run's own topic prefix, stopped and dropped afterwards. Also: the consumers' lag, summed over
this run's consumer groups."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench._db import KAFKA, async_url, scratch_database
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.identity import auth_env
from tests.support.processes import ServiceProcess
from tests.support.topics import delete_topics_with_prefix

# The services on the path of a complaint (case opened with its timers, satisfaction facts,
# intake following the case's status). Notify and ledger consume it too: add them with
# BENCH_E2E_SERVICES=intake,escalation,followup,satisfaction,ledger (notify wants an SMTP
# server: NOTIFY_SMTP_HOST/PORT in the environment).
DEFAULT_SERVICES = ("intake", "escalation", "followup", "satisfaction")
API_KEY = f"bench-web-{uuid.uuid4().hex}"
PARTITIONS = int(os.environ.get("BENCH_E2E_PARTITIONS", "6"))


def services_from_env() -> list[str]:
    named = os.environ.get("BENCH_E2E_SERVICES", "")
    return [s for s in named.split(",") if s] or list(DEFAULT_SERVICES)


@dataclass
class Stack:
    topics: Topics
    processes: dict[str, ServiceProcess]
    databases: dict[str, str]  # service -> database name

    @property
    def intake_url(self) -> str:
        return self.processes["intake"].url

    def pids(self) -> dict[str, int]:
        return {name: p.proc.pid for name, p in self.processes.items() if p.proc is not None}


@asynccontextmanager
async def running_stack(
    services: list[str], env: dict[str, dict[str, str]] | None = None
) -> AsyncIterator[Stack]:
    """``env``: extra environment per service (e.g. intake's overload limits)."""
    topics = Topics(f"bench-e2e-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(KAFKA, topics.all(), partitions=PARTITIONS)
    log_level = os.environ.get("BENCH_E2E_LOG_LEVEL", "INFO")
    async with AsyncExitStack() as stack:
        dsns = {s: await stack.enter_async_context(scratch_database(s, False)) for s in services}
        processes = {
            name: ServiceProcess(
                name,
                {
                    "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
                    "KAFKA_TOPIC_PREFIX": topics.prefix,
                    f"{name.upper()}_DATABASE_URL": async_url(dsn),
                    "INTAKE_API_KEYS": f"web:{API_KEY}",
                    "LOG_LEVEL": log_level,
                    **auth_env(),
                    **(env or {}).get(name, {}),
                },
            )
            for name, dsn in dsns.items()
        }
        try:
            await asyncio.gather(*(asyncio.to_thread(p.start) for p in processes.values()))
            yield Stack(topics, processes, {s: d.rsplit("/", 1)[1] for s, d in dsns.items()})
        finally:
            for process in processes.values():
                await asyncio.to_thread(process.stop)
            # The broker keeps every partition's files open: leave no topics behind.
            await delete_topics_with_prefix(KAFKA, topics.prefix)


async def consumer_lag(topics: Topics) -> int:
    """Records published to this run's topics that its consumer groups have not committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    probe = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    await admin.start()
    await probe.start()
    try:
        groups = [
            g[0] if isinstance(g, tuple) else g.group_id for g in await admin.list_consumer_groups()
        ]
        ours = [g for g in groups if g.startswith(topics.prefix)]
        lag = 0
        for group in ours:
            committed = {
                tp: max(meta.offset, 0)
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
            }
            # Every partition of a topic the group committed on: one it has not reached yet
            # (no commit) counts from offset 0.
            names = {tp.topic for tp in committed if tp.topic.startswith(topics.prefix)}
            tps = [
                TopicPartition(name, p)
                for name in names
                for p in (probe.partitions_for_topic(name) or await _partitions(probe, name))
            ]
            if not tps:
                continue
            ends = await probe.end_offsets(tps)
            lag += sum(max(0, ends[tp] - committed.get(tp, 0)) for tp in tps)
        return lag
    finally:
        await probe.stop()
        await admin.close()


async def _partitions(probe: AIOKafkaConsumer, topic: str) -> set[int]:
    await probe._client.force_metadata_update()  # the probe subscribes to nothing
    return probe.partitions_for_topic(topic) or set()


async def wait_drained(topics: Topics, timeout: float) -> float | None:
    """Seconds until every consumer group of the run has no lag, or None past ``timeout``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < timeout:
        if await consumer_lag(topics) == 0:
            return loop.time() - started
        await asyncio.sleep(0.5)
    return None
