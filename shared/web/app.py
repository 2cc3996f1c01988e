"""The FastAPI application every service builds the same way: lifespan running the
background tasks, health and metrics, error mapping, body limit, the staff directory and who
may call the ops APIs."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from shared.directory import Directory, directory_file, load_directory
from shared.events.asyncapi import asyncapi_document
from shared.runtime import Runtime, Task, lifespan
from shared.settings import ServiceSettings
from shared.web.admin_outbox import admin_outbox_router
from shared.web.admin_parked import router as admin_parked_router
from shared.web.admin_timers import admin_timers_router
from shared.web.errors import install_error_handlers
from shared.web.health import health_router
from shared.web.middleware import MetricsMiddleware
from shared.web.ops_auth import Authenticator


def service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    runtime: Runtime,
    tasks: Callable[[Runtime], list[Task]],
    router: APIRouter,
    directory: Directory | None = None,
) -> FastAPI:
    """``directory``: the staff directory when the service loaded (and checked) it itself;
    else the one of ``STAFF_DIRECTORY_FILE``."""
    app = FastAPI(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=lifespan(runtime, tasks),
        max_body_size=settings.max_body_bytes,  # 413 beyond, declared or streamed
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.directory = directory or load_directory(directory_file(settings.staff_directory_file))
    app.state.auth = Authenticator.from_settings(settings, app.state.directory)
    install_error_handlers(app)
    app.include_router(health_router())
    app.include_router(admin_outbox_router())
    app.include_router(admin_timers_router())  # a 404 in a service without timers
    app.include_router(router)
    app.include_router(admin_parked_router)
    # The event contracts (AsyncAPI 3.0), the same document as schemas/asyncapi.yaml.
    app.add_api_route("/asyncapi.json", asyncapi_document, methods=["GET"], tags=["contracts"])
    app.add_middleware(MetricsMiddleware)
    return app
