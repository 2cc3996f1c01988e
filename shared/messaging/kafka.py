"""One Kafka producer per process, shared by the outbox relay and the dead-letter path."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class KafkaLink:
    """Owns the process's idempotent producer; (re)starts it lazily so a service can start,
    and keep taking complaints, while Kafka is down."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers,
                    client_id=self.client_id,
                    # Idempotence implies acks=all and keeps retries from reordering or
                    # duplicating records within a partition.
                    enable_idempotence=True,
                    acks="all",
                    # No linger: the relay queues a whole wave before the sender runs, so its
                    # records batch anyway, and each hop of a complaint saves the wait.
                    linger_ms=0,
                    request_timeout_ms=10_000,
                    retry_backoff_ms=200,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def reset(self) -> None:
        """Drop the producer after a failure; the next call builds a fresh one."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except KafkaError:
                log.debug("producer stop failed", exc_info=True)

    async def ready(self, timeout: float = 2.0) -> bool:
        try:
            producer = await asyncio.wait_for(self.producer(), timeout)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        await self.reset()
