"""The notify ASGI application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from services.notify import consumers
from services.notify.api.routes import router
from services.notify.delivery.worker import DeliveryWorker
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from services.notify.usecases import Deps
from shared.config_files import ConfigError
from shared.directory import Directory, directory_file, load_directory
from shared.runtime import Runtime, Task
from shared.web.app import service_app


def load_checked(settings: NotifySettings) -> tuple[Directory, Renderer]:
    """The directory and the templates, checked: a problem stops the service at start-up."""
    directory = load_directory(directory_file(settings.staff_directory_file))
    quiet = settings.quiet()
    renderer = Renderer(settings.templates_dir, quiet.zone)
    renderer.check()
    hooks = any(p.webhook for p in directory.people) or any(t.webhook for t in directory.teams)
    if (hooks or settings.sms_gateway_url) and not settings.webhook_secret.get_secret_value():
        raise ConfigError(
            "NOTIFY_WEBHOOK_SECRET is required: the directory names webhooks or "
            "NOTIFY_SMS_GATEWAY_URL is set, and nothing is sent unsigned"
        )
    return directory, renderer


def build_deps(
    settings: NotifySettings, runtime: Runtime, clock: Callable[[], datetime] | None = None
) -> Deps:
    directory, renderer = load_checked(settings)
    return Deps(
        topics=runtime.topics,
        settings=settings,
        directory=directory,
        renderer=renderer,
        quiet=settings.quiet(),
        clock=clock or (lambda: datetime.now(UTC)),
    )


def create_app(
    settings: NotifySettings | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """``clock`` lets tests move time (quiet hours) without waiting for it."""
    settings = settings or NotifySettings()
    runtime = Runtime.build(settings)
    deps = build_deps(settings, runtime, clock)
    worker = DeliveryWorker(runtime.engine, runtime.sessions, deps)

    def tasks(runtime: Runtime) -> list[Task]:
        topics = runtime.topics
        consumer = runtime.consumer(
            [topics.intake, topics.handling, topics.followup], consumers.handlers(deps)
        )
        return [runtime.relay().run, consumer.run, worker.run]

    app = service_app(
        title="Complaint notifications",
        description=(
            "Tells staff (e-mail, signed webhooks, per their preference in the staff "
            "directory) and customers (e-mail, SMS; in their language, with quiet hours) what "
            "happens to a complaint. Every message is delivered at least once, or parked as "
            "failed where operators see and retry it."
        ),
        settings=settings,
        runtime=runtime,
        tasks=tasks,
        router=router,
        directory=deps.directory,
    )
    app.state.deps = deps
    app.state.worker = worker
    return app
