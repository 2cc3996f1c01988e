"""The load-shedding middleware on its own: places, the queue, its wait, the exempt paths."""

from __future__ import annotations

import asyncio

import httpx

from shared.web.overload import LoadShedding


class HeldApp:
    """An ASGI app whose requests stay inside until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0

    async def __call__(self, scope, receive, send) -> None:
        self.inside += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def until(condition) -> None:
    """Let the other tasks run until ``condition`` holds (no clock involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_full_queue_sheds_at_once_and_the_queued_request_gets_the_freed_place():
    inner = HeldApp()
    app = LoadShedding(inner, limit=1, queue=1, wait_seconds=60, retry_after_seconds=3)
    async with client(app) as http:
        first = asyncio.create_task(http.get("/a"))
        await until(lambda: inner.inside == 1)
        queued = asyncio.create_task(http.get("/b"))
        await until(lambda: app._waiting == 1)
        shed = await http.get("/c")
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "3"
        inner.release.set()
        assert (await first).status_code == 200
        assert (await queued).status_code == 200
    assert inner.inside == 2  # the queued one went in, the shed one never did


async def test_a_queued_request_past_its_wait_is_shed():
    inner = HeldApp()
    app = LoadShedding(inner, limit=1, queue=5, wait_seconds=0.01)
    async with client(app) as http:
        first = asyncio.create_task(http.get("/a"))
        await until(lambda: inner.inside == 1)
        late = await http.get("/b")
        assert late.status_code == 503
        assert inner.inside == 1  # it never reached the app
        inner.release.set()
        assert (await first).status_code == 200


async def test_health_and_metrics_are_never_shed():
    inner = HeldApp()
    app = LoadShedding(inner, limit=1, queue=0, wait_seconds=0.01)
    async with client(app) as http:
        first = asyncio.create_task(http.get("/a"))
        await until(lambda: inner.inside == 1)
        probes = [asyncio.create_task(http.get(p)) for p in ("/healthz", "/readyz", "/metrics")]
        await until(lambda: inner.inside == 4)  # all three went in despite the limit
        inner.release.set()
        assert [(await p).status_code for p in probes] == [200, 200, 200]
        assert (await first).status_code == 200
