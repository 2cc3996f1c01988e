"""A Kafka outage in a service's log: one line when the broker is lost, one when it is back,
the ``kafka_connected`` gauge in between, and none of aiokafka's per-attempt errors. The
service runs as a real process against a private broker that the test stops and restarts."""

from __future__ import annotations

import asyncio
import json

import httpx

from shared.messaging.admin import ensure_topics
from tests.support.disposable_kafka import DisposableKafka


def log_lines(process) -> list[dict]:
    out = []
    for line in process.log_path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


async def gauge(client: httpx.AsyncClient) -> float | None:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("kafka_connected "):
            return float(line.split()[1])
    return None


async def counter(client: httpx.AsyncClient, name: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


async def until(check, timeout: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.5)


async def test_a_kafka_outage_is_two_log_lines_and_a_gauge(start_service, topics):
    kafka = DisposableKafka()
    kafka.start()
    try:
        await ensure_topics(kafka.bootstrap, topics.all(), partitions=3)
        process = await start_service("intake", KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap)
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            await until(lambda: _equals(gauge(client), 1.0))
            kafka.stop()

            async def lost() -> bool:
                return await gauge(client) == 0.0

            await until(lost)
            await asyncio.sleep(15)  # the outage goes on: aiokafka keeps retrying meanwhile
            kafka.start()

            async def back() -> bool:
                return await gauge(client) == 1.0

            await until(back)
            suppressed = await counter(client, "kafka_client_log_lines_suppressed_total")
        lines = log_lines(process)
        said = [line for line in lines if line["message"].startswith("kafka:")]
        assert [line["message"] for line in said] == [
            "kafka: connection to the broker lost",
            "kafka: connection to the broker is back",
        ], [(line["time"], line["message"], line.get("reason")) for line in said]
        # aiokafka did complain (every reconnection attempt), and none of it reached the log.
        assert suppressed > 10
        during = [line for line in lines if line["time"] >= said[0]["time"]
                  and line["logger"].startswith("aiokafka")
                  and line["level"] in ("ERROR", "WARNING")]  # fmt: skip
        # What remains is the consumer group settling after the broker is back (a heartbeat
        # failed, a rejoin): a handful, where the outage used to write 1,200-2,000 lines.
        assert len(during) <= 10, [line["message"] for line in during]
    finally:
        kafka.destroy()


async def _equals(value, expected) -> bool:
    return await value == expected
