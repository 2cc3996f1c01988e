"""Running a service's consumer runner in the test's own process until its inbox holds a
number of events (the runner wired by the test, on the service's runtime)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from shared.messaging.consumer import ConsumerRunner
from shared.runtime import Runtime


async def run_until_processed(
    runtime: Runtime,
    runner: ConsumerRunner,
    processed: int,
    timeout: float = 120,
    parked_allowed: bool = True,
    settle: float = 0.0,
) -> None:
    """Run ``runner`` until the inbox holds ``processed`` events (``parked_allowed`` False:
    fail at once should one be parked), ``settle`` seconds more, then stop it and close the
    runtime."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with runtime.engine.connect() as conn:
                n = await conn.scalar(sa.text("SELECT count(*) FROM inbox"))
                parked = await conn.scalar(sa.text("SELECT count(*) FROM parked_events"))
            assert parked_allowed or parked == 0, f"{parked} events parked"
            if n >= processed:
                break
            assert asyncio.get_running_loop().time() < deadline, f"only {n} events processed"
            await asyncio.sleep(0.2)
        await asyncio.sleep(settle)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await runtime.kafka.close()
        await runtime.engine.dispose()
