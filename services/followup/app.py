"""The follow-up ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.followup import activity_calls, callbacks, consumers, erasure, retention
from services.followup.api.routes import router
from services.followup.callbacks import Deps
from services.followup.domain.policy import load_policy
from services.followup.settings import FollowupSettings
from shared.directory import directory_file, load_directory
from shared.events.envelope import Envelope
from shared.messaging.consumer import Handler
from shared.runtime import Runtime, Task
from shared.web.app import service_app


def chained(*tables: dict[str, Handler]) -> dict[str, Handler]:
    """Handlers by event type; an event type several modules handle runs each of them in
    turn, in the one transaction of the event (``customer.activity``: retention counts the
    visit, then activity_calls schedules the call about a purchase)."""
    found: dict[str, list[Handler]] = {}
    for table in tables:
        for event_type, handler in table.items():
            found.setdefault(event_type, []).append(handler)

    def run_all(handlers: list[Handler]) -> Handler:
        async def handle(session, event: Envelope) -> None:
            for handler in handlers:
                await handler(session, event)

        return handle

    return {t: hs[0] if len(hs) == 1 else run_all(hs) for t, hs in found.items()}


def tasks_for(deps: Deps):
    def background_tasks(runtime: Runtime) -> list[Task]:
        activity_handlers, review_timers = retention.handlers(deps)
        consumer = runtime.consumer(
            [
                runtime.topics.handling,
                runtime.topics.satisfaction,
                runtime.topics.activity,
                runtime.topics.intake,  # customer.erasure_requested
            ],
            chained(
                consumers.handlers(deps),
                activity_handlers,
                activity_calls.handlers(deps),
                erasure.handlers(runtime.topics),
            ),
            batch_handlers=consumers.batch_handlers(deps, consumers.handlers(deps)),
        )
        scheduler = runtime.scheduler(
            callbacks.timer_handlers(deps) | review_timers, callbacks.timer_batch_handlers(deps)
        )
        return [runtime.relay().run, consumer.run, scheduler.run]

    return background_tasks


def create_app(settings: FollowupSettings | None = None) -> FastAPI:
    settings = settings or FollowupSettings()
    policy = load_policy(settings.policy_file)
    directory = load_directory(directory_file(settings.staff_directory_file))
    runtime = Runtime.build(settings)
    deps = Deps(topics=runtime.topics, policy=policy, directory=directory)
    app = service_app(
        title="Complaint follow-up",
        description=(
            "Call-backs after a case is resolved, until the customer is satisfied; remedial "
            "calls after an unhappy survey; retention calls when a customer's tier drops."
        ),
        settings=settings,
        runtime=runtime,
        tasks=tasks_for(deps),
        router=router,
        directory=directory,
    )
    app.state.deps = deps
    return app
