"""The intake ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.intake import chase, erasure, links, usecases
from services.intake.api import customer_link, incomplete, privacy
from services.intake.api.routes import router
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.status import RESUME_EVENT, STATUS_BY_EVENT
from services.intake.erasure import retention_sweep
from services.intake.settings import IntakeSettings
from services.intake.store import repository
from services.intake.store.recording import Recorder
from shared.events.notify import CustomerLinkIssued
from shared.events.privacy import CustomerErased
from shared.runtime import Runtime, Task
from shared.web.app import service_app
from shared.web.overload import LoadShedding


def policy_from(settings: IntakeSettings) -> IntakePolicy:
    return IntakePolicy(
        major_categories=frozenset(settings.major_categories),
        major_keywords=tuple(settings.major_keywords),
        required_contact=tuple(settings.required_contact),
        ack_minutes_remote=settings.ack_minutes_remote,
        ack_minutes_on_site=settings.ack_minutes_on_site,
        ack_tier_factors=dict(settings.ack_tier_factors),
        ack_major_factor=settings.ack_major_factor,
    )


def forget_idempotency_keys(runtime: Runtime, retention_days: int) -> Task:
    """Hourly: drop Idempotency-Keys past retention (a retry after that is a new complaint)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with runtime.sessions.begin() as session:
                await repository.forget_idempotency_keys(session, retention_days)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 3600)

    return run


def count_awaiting_information(runtime: Runtime, every: float = 30) -> Task:
    """Keep the gauge of incomplete complaints current (for the alert and the dashboard)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await chase.count_awaiting(runtime.sessions)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    return run


def background_tasks(runtime: Runtime) -> list[Task]:
    status_events = [*STATUS_BY_EVENT, RESUME_EVENT, "case.escalated"]
    topics = runtime.topics
    follow = runtime.consumer(
        [topics.handling, topics.followup, topics.satisfaction, topics.notify],
        dict.fromkeys(status_events, usecases.follow_status)
        | {
            CustomerErased.event_type: erasure.on_erased,
            CustomerLinkIssued.event_type: links.remember_link,
        },
        batch_handlers=dict.fromkeys(STATUS_BY_EVENT, usecases.follow_status_many),
    )
    retention = runtime.settings.idempotency_retention_days  # type: ignore[attr-defined]
    return [
        runtime.relay().run,
        follow.run,
        runtime.scheduler(chase.chase_handlers(topics)).run,
        forget_idempotency_keys(runtime, retention),
        retention_sweep(runtime, runtime.settings),  # type: ignore[arg-type]
        count_awaiting_information(runtime),
    ]


def with_recorder(app: FastAPI, settings: IntakeSettings) -> None:
    """Open the hot path's pool (store.recording) with the app, close it after."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            app.state.recorder = await Recorder.open(
                settings.database_url.get_secret_value(), settings.record_pool_size
            )
            try:
                yield
            finally:
                await app.state.recorder.close()

    app.router.lifespan_context = lifespan


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = Runtime.build(settings)
    app = service_app(
        title="Complaint intake",
        description="The front door for customer channels: record, classify, publish complaints.",
        settings=settings,
        runtime=runtime,
        tasks=background_tasks,
        router=router,
    )
    app.include_router(privacy.router)
    app.include_router(customer_link.router)
    app.include_router(incomplete.router)
    app.state.policy = policy_from(settings)
    app.state.api_keys = settings.api_key_list()
    with_recorder(app, settings)
    app.add_middleware(
        LoadShedding,
        limit=settings.max_concurrent_requests,
        queue=settings.max_queued_requests,
        wait_seconds=settings.queue_wait_seconds,
        retry_after_seconds=settings.overload_retry_after_seconds,
    )
    return app
