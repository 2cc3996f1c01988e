"""``/healthz`` (the process is alive), ``/readyz`` (database and Kafka reachable) and
``/metrics`` (Prometheus, see shared.web.metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.kafka import KafkaLink
from shared.web.errors import field_error


async def database_ready(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    async def ping() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(ping(), timeout)
    except Exception:
        return False
    return True


def health_router(
    checks: Callable[[Request], dict[str, Awaitable[bool]]] | None = None,
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database and Kafka are reachable")
    async def readyz(
        request: Request, only: Annotated[list[str] | None, Query()] = None
    ) -> JSONResponse:
        """``?only=database`` narrows the check: intake keeps taking complaints while Kafka is
        down (the outbox holds them), so its load-balancer probe should not require Kafka."""
        engine: AsyncEngine = request.app.state.engine
        kafka: KafkaLink = request.app.state.kafka
        probes: dict[str, Callable[[], Awaitable[bool]]] = {
            "database": lambda: database_ready(engine),
            "kafka": kafka.ready,
        }
        if checks is not None:
            for name, probe in checks(request).items():
                probes[name] = lambda probe=probe: probe
        unknown = sorted(set(only or ()) - set(probes))
        if unknown:
            raise field_error(("query", "only"), f"unknown check; one of {sorted(probes)}", unknown)
        wanted = [name for name in probes if only is None or name in only]
        found = await asyncio.gather(*(probes[name]() for name in wanted))
        results = dict(zip(wanted, found, strict=True))
        ok = all(results.values())
        body = {"status": "ready" if ok else "unavailable"} | {
            k: "ok" if v else "unavailable" for k, v in results.items()
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return router
