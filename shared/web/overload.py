"""Shedding load past capacity: at most ``limit`` requests inside the app at once and a short
queue of ``queue`` more, each waiting at most ``wait_seconds``; any other request is answered
503 with ``Retry-After`` at once, before the app (or the database) sees any of it, so nothing
is half-written. Without it, a rate above capacity piles up requests in the event loop and
every one of them gets slower until clients time out (tens of seconds).

Liveness, readiness and metrics are never shed: an orchestrator must not restart a replica
for being busy, nor lose sight of it."""

from __future__ import annotations

import asyncio

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

SHED = Counter(
    "http_requests_shed_total",
    "Requests refused with 503 because the service was at capacity, by why",
    ["reason"],  # queue_full: refused at once; queue_timeout: waited wait_seconds in the queue
)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests inside the app (the shedding limit's)")
QUEUED = Gauge("http_requests_queued", "Requests waiting for a place inside the app")

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
_BODY = b'{"detail":"the service is at capacity; nothing was recorded, please retry"}'


class LoadShedding:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        queue: int,
        wait_seconds: float,
        retry_after_seconds: int = 1,
    ) -> None:
        self.app = app
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.limit = limit
        self._inside = 0
        self._places = asyncio.Semaphore(limit)
        self._waiting = 0
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"retry-after", str(retry_after_seconds).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        # Full, or others already waiting (a place freed goes to them first): queue up.
        if self._inside >= self.limit or self._waiting:
            if self._waiting >= self.queue:
                await self._shed(send, "queue_full")
                return
            self._waiting += 1
            QUEUED.inc()
            try:
                await asyncio.wait_for(self._places.acquire(), self.wait_seconds)
            except TimeoutError:
                await self._shed(send, "queue_timeout")
                return
            finally:
                self._waiting -= 1
                QUEUED.dec()
        else:
            await self._places.acquire()  # free: returns at once
        self._inside += 1
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self._inside -= 1
            IN_FLIGHT.dec()
            self._places.release()

    async def _shed(self, send: Send, reason: str) -> None:
        SHED.labels(reason).inc()
        await send({"type": "http.response.start", "status": 503, "headers": self._headers})
        await send({"type": "http.response.body", "body": _BODY})
