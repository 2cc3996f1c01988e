"""The FastAPI application every service builds the same way: lifespan running the
background tasks, health and metrics, error mapping, body limit, ops tokens."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from shared.runtime import Runtime, Task, lifespan
from shared.settings import ServiceSettings
from shared.web.admin_outbox import admin_outbox_router
from shared.web.admin_parked import router as admin_parked_router
from shared.web.admin_timers import admin_timers_router
from shared.web.errors import install_error_handlers
from shared.web.health import health_router
from shared.web.middleware import MetricsMiddleware
from shared.web.ops_auth import parse_ops_tokens


def service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    runtime: Runtime,
    tasks: Callable[[Runtime], list[Task]],
    router: APIRouter,
) -> FastAPI:
    app = FastAPI(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=lifespan(runtime, tasks),
        max_body_size=settings.max_body_bytes,  # 413 beyond, declared or streamed
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.ops_tokens = parse_ops_tokens(settings.ops_tokens)
    install_error_handlers(app)
    app.include_router(health_router())
    app.include_router(admin_outbox_router())
    app.include_router(admin_timers_router())  # a 404 in a service without timers
    app.include_router(router)
    app.include_router(admin_parked_router)
    app.add_middleware(MetricsMiddleware)
    return app
