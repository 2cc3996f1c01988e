"""The ledger ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.ledger import consumers, erasure, reviews, schedules
from services.ledger.api.routes import router
from services.ledger.deps import Deps
from services.ledger.settings import LedgerSettings
from shared.runtime import Runtime, Task
from shared.web.app import service_app


def tasks_for(deps: Deps):
    def background_tasks(runtime: Runtime) -> list[Task]:
        consumer = runtime.consumer(
            consumers.source_topics(runtime.topics),
            consumers.handlers(deps) | erasure.handlers(),
            batch_handlers=consumers.batch_handlers(deps),
        )
        scheduler = runtime.scheduler(schedules.timer_handlers(deps) | reviews.timer_handlers(deps))
        return [
            runtime.relay().run,
            consumer.run,
            schedules.reconciler(runtime.sessions, deps),
            scheduler.run,
        ]

    return background_tasks


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()
    runtime = Runtime.build(settings)
    deps = Deps.of(settings, runtime.topics)
    app = service_app(
        title="Complaint ledger",
        description=(
            "Every complaint and its steps in one ledger (JSON, CSV, spreadsheet, print); "
            "unresolved complaints flagged at month end; weekly, quarterly and half-yearly "
            "summaries; internal reviews with root causes and corrective and preventive actions."
        ),
        settings=settings,
        runtime=runtime,
        tasks=tasks_for(deps),
        router=router,
    )
    app.state.deps = deps
    return app
