"""The satisfaction ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.satisfaction import erasure, usecases
from services.satisfaction.alerts import watcher
from services.satisfaction.api.routes import router
from services.satisfaction.domain.report import ReportPolicy
from services.satisfaction.settings import SatisfactionSettings
from shared.runtime import Runtime, Task
from shared.web.app import service_app


def policy_from(settings: SatisfactionSettings) -> ReportPolicy:
    return ReportPolicy(
        targets_min=dict(settings.targets_min),
        targets_max=dict(settings.targets_max),
        silent_multiplier=settings.silent_multiplier,
        retention_unresolved=settings.retention_unresolved,
        retention_resolved=settings.retention_resolved,
        retention_resolved_quickly=settings.retention_resolved_quickly,
        top_factors=settings.top_factors,
    )


def background_tasks(runtime: Runtime) -> list[Task]:
    settings: SatisfactionSettings = runtime.settings  # type: ignore[assignment]
    consume = runtime.consumer(
        usecases.source_topics(runtime.topics),
        usecases.handlers(settings.escalation_ladder) | erasure.handlers(runtime.topics),
        hooks=usecases.LockOrder(),
        batch_handlers=usecases.batch_handlers(settings.escalation_ladder),
    )
    alerts = watcher(runtime.sessions, runtime.topics, settings)
    return [runtime.relay().run, consume.run, alerts]


def create_app(settings: SatisfactionSettings | None = None) -> FastAPI:
    settings = settings or SatisfactionSettings()
    runtime = Runtime.build(settings)
    app = service_app(
        title="Customer satisfaction",
        description="Survey answers joined with what happened to each complaint: reports, "
        "alerts and a dashboard.",
        settings=settings,
        runtime=runtime,
        tasks=background_tasks,
        router=router,
    )
    app.state.policy = policy_from(settings)
    return app
