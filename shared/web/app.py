"""The FastAPI application every service builds the same way: lifespan running the
background tasks, health and metrics, error mapping, body limit, input checks, the staff
directory and who may call the ops APIs, docs and metrics exposed as configured, and an
OpenAPI document listing every status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from shared.directory import Directory, directory_file, load_directory
from shared.events.asyncapi import asyncapi_document
from shared.runtime import Runtime, Task, lifespan
from shared.settings import Exposure, ServiceSettings
from shared.web.admin_outbox import admin_outbox_router
from shared.web.admin_parked import router as admin_parked_router
from shared.web.admin_timers import admin_timers_router
from shared.web.errors import install_error_handlers
from shared.web.health import health_router
from shared.web.inputs import refuse_unstorable_input
from shared.web.metrics import metrics_port_task, metrics_router
from shared.web.middleware import DeclaredBodyLimit, MetricsMiddleware
from shared.web.openapi import install_openapi
from shared.web.ops_auth import Authenticator, Principal, Role, require

Staff = Annotated[Principal, require(Role.AGENT)]


class ServiceApp(FastAPI):
    """FastAPI with a declared-too-large body refused outermost, in the documented JSON form
    (FastAPI's own limit sits outside every middleware a service can add)."""

    def build_middleware_stack(self):  # type: ignore[no-untyped-def]
        stack = super().build_middleware_stack()
        return stack if self.max_body_size is None else DeclaredBodyLimit(stack, self.max_body_size)


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
    public_docs = settings.docs == Exposure.PUBLIC
    if settings.metrics_port is not None:
        service_tasks = tasks

        def tasks(runtime: Runtime) -> list[Task]:
            return [*service_tasks(runtime), metrics_port_task(settings)]

    app = ServiceApp(
        title=title,
        version="1.0.0",
        description=description,
        lifespan=lifespan(runtime, tasks),
        max_body_size=settings.max_body_bytes,  # 413 beyond, declared or streamed
        dependencies=[Depends(refuse_unstorable_input)],
        openapi_url="/openapi.json" if public_docs else None,
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.directory = directory or load_directory(directory_file(settings.staff_directory_file))
    app.state.auth = Authenticator.from_settings(settings, app.state.directory)
    install_error_handlers(app)
    app.include_router(health_router())
    app.include_router(metrics_router(settings))
    app.include_router(admin_outbox_router())
    app.include_router(admin_timers_router())  # a 404 in a service without timers
    app.include_router(router)
    app.include_router(admin_parked_router)
    # The event contracts (AsyncAPI 3.0), the same document as schemas/asyncapi.yaml.
    app.add_api_route("/asyncapi.json", asyncapi_document, methods=["GET"], tags=["contracts"])
    openapi = install_openapi(app)
    if settings.docs == Exposure.PROTECTED:
        app.include_router(protected_docs(title, openapi))
    app.add_middleware(MetricsMiddleware)
    return app


def protected_docs(title: str, openapi: Callable[[], dict]) -> APIRouter:
    """/openapi.json and /docs behind an ops bearer token (any role). A browser reaches them
    through a proxy that adds the header; scripts send it themselves."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi_document(_: Staff) -> JSONResponse:
        return JSONResponse(openapi())

    @router.get("/docs")
    async def docs(_: Staff) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=title)

    return router
