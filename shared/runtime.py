"""What a service process runs besides its HTTP routes: the engine, the Kafka link, the
outbox relay and the consumer runners, started and stopped with the app (FastAPI lifespan)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, session_factory
from shared.events.topics import Topics
from shared.messaging.consumer import BatchHandler, BatchHooks, ConsumerRunner, Handler
from shared.messaging.kafka import KafkaLink
from shared.messaging.outbox import OutboxRelay
from shared.settings import ServiceSettings
from shared.timers import TimerBatchHandler, TimerHandler, TimerScheduler

log = logging.getLogger(__name__)

Task = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Runtime:
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    kafka: KafkaLink
    topics: Topics
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: ServiceSettings) -> Runtime:
        engine = create_engine(settings.database_url.get_secret_value(), settings.db_pool_size)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            kafka=KafkaLink(settings.kafka_bootstrap_servers, settings.service_name),
            topics=Topics(settings.kafka_topic_prefix),
        )

    def consumer(
        self,
        topics: list[str],
        handlers: dict[str, Handler],
        hooks: BatchHooks | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
    ) -> ConsumerRunner:
        return ConsumerRunner(
            topics=topics,
            group_id=self.settings.consumer_group,
            handlers=handlers,
            sessions=self.sessions,
            kafka=self.kafka,
            max_retries=self.settings.consumer_max_retries,
            retry_backoff=self.settings.consumer_retry_backoff_seconds,
            batch_size=self.settings.consumer_batch_size,
            fetch_min_bytes=self.settings.consumer_fetch_min_bytes,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            commit_interval_seconds=self.settings.consumer_commit_interval_seconds,
            hooks=hooks,
            batch_handlers=batch_handlers or {},
        )

    def scheduler(
        self,
        handlers: Mapping[str, TimerHandler],
        batch_handlers: Mapping[str, TimerBatchHandler] | None = None,
    ) -> TimerScheduler:
        return TimerScheduler(
            self.engine,
            handlers,
            batch_handlers=batch_handlers,
            batch_size=self.settings.timer_batch_size,
            max_sleep=self.settings.timer_max_sleep_seconds,
        )

    def relay(self) -> OutboxRelay:
        return OutboxRelay(
            self.engine,
            self.kafka,
            batch_size=self.settings.outbox_batch_size,
            poll_seconds=self.settings.outbox_poll_seconds,
        )


def lifespan(runtime: Runtime, tasks: Callable[[Runtime], list[Task]]):
    """A FastAPI lifespan running ``tasks`` (relay, consumers, schedulers) beside the routes
    and stopping them cleanly: each finishes what it holds, then the connections close."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime
        app.state.engine = runtime.engine
        app.state.kafka = runtime.kafka
        runtime.stop.clear()
        running = [asyncio.create_task(_guard(task, runtime.stop)) for task in tasks(runtime)]
        try:
            yield
        finally:
            runtime.stop.set()
            _, pending = await asyncio.wait(running, timeout=10) if running else (set(), set())
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await runtime.kafka.close()
            await runtime.engine.dispose()

    return run


async def _guard(task: Task, stop: asyncio.Event) -> None:
    """Keep a background task alive: a crash is logged and the task restarted."""
    while not stop.is_set():
        try:
            await task(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task crashed; restarting", extra={"task": repr(task)})
            await asyncio.sleep(1)
