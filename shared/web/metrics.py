"""``/metrics`` (Prometheus), exposed as configuration says: public, behind METRICS_TOKEN
(``Authorization: Bearer <token>``, which Prometheus sends with ``authorization:`` in its
scrape config), off, and/or on a separate port (``*_METRICS_PORT``) that the network keeps
private."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server

from shared.settings import Exposure, ServiceSettings


def metrics_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])
    if settings.metrics == Exposure.OFF:
        return router
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else b""
    protected = settings.metrics == Exposure.PROTECTED

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if protected:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token):
                return Response(
                    "metrics need the metrics bearer token",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def metrics_port_task(settings: ServiceSettings):
    """A background task serving /metrics on ``settings.metrics_port`` until the app stops."""

    async def serve(stop: asyncio.Event) -> None:
        assert settings.metrics_port is not None
        server, thread = start_http_server(settings.metrics_port, addr=settings.host)
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
            thread.join(timeout=5)

    return serve
