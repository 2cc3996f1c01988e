"""The satisfaction ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.satisfaction import erasure, retention_calls, usecases
from services.satisfaction.alerts import watcher
from services.satisfaction.api.routes import router
from services.satisfaction.domain.figures import load_figures
from services.satisfaction.domain.report import ReportPolicy
from services.satisfaction.settings import SatisfactionSettings
from shared.runtime import Runtime, Task
from shared.web.app import service_app

LEGACY_FIGURES = {
    "retention_unresolved": "unresolved",
    "retention_resolved": "resolved",
    "retention_resolved_quickly": "resolved_quickly",
}


def policy_from(settings: SatisfactionSettings) -> ReportPolicy:
    """The report policy: the figures file, with the figures the environment still sets
    (``SATISFACTION_SILENT_MULTIPLIER``, ``SATISFACTION_RETENTION_*``) taking precedence."""
    figures = load_figures(settings.figures_file)
    given = settings.model_fields_set
    rates = dict(figures.return_rates.rates)
    for name, group in LEGACY_FIGURES.items():
        if name in given:
            rates[group] = getattr(settings, name)
    silent = figures.silent_per_complaint.value
    if "silent_multiplier" in given:
        silent = settings.silent_multiplier
    figures = figures.model_copy(
        update={
            "return_rates": figures.return_rates.model_copy(update={"rates": rates}),
            "silent_per_complaint": figures.silent_per_complaint.model_copy(
                update={"value": silent}
            ),
        }
    )
    return ReportPolicy(
        targets_min=dict(settings.targets_min),
        targets_max=dict(settings.targets_max),
        silent_multiplier=silent,
        retention_unresolved=rates["unresolved"],
        retention_resolved=rates["resolved"],
        retention_resolved_quickly=rates["resolved_quickly"],
        top_factors=settings.top_factors,
        ladder=tuple(settings.escalation_ladder),
        figures=figures,
    )


def background_tasks(runtime: Runtime) -> list[Task]:
    settings: SatisfactionSettings = runtime.settings  # type: ignore[assignment]
    consume = runtime.consumer(
        usecases.source_topics(runtime.topics),
        usecases.handlers(settings.escalation_ladder)
        | erasure.handlers(runtime.topics)
        | retention_calls.handlers(),
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
