"""Intake past capacity, as a real process: with one place and no queue, a request arriving
while another is inside gets 503 with Retry-After at once and writes nothing; the one inside
completes normally. Not timed: the held request is held by its own unfinished body."""

from __future__ import annotations

import asyncio
import json
import re

import httpx

from tests.e2e.conftest import INTAKE_KEYS
from tests.e2e.test_intake import WEB, complaint
from tests.support.waiting import eventually

CRM = {"X-API-Key": INTAKE_KEYS["crm[read-all,tier]"]}


def metric(text: str, name: str, labels: str = "") -> float:
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_request_past_the_limit_is_shed_with_retry_after(start_service):
    intake = await start_service(
        "intake", INTAKE_MAX_CONCURRENT_REQUESTS="1", INTAKE_MAX_QUEUED_REQUESTS="0"
    )
    body = json.dumps(complaint()).encode()
    release = asyncio.Event()

    async def slow_body():
        yield body[:20]
        await release.wait()  # the request stays inside the app until released
        yield body[20:]

    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        headers = WEB | {"Content-Type": "application/json"}
        held = asyncio.create_task(client.post("/complaints", content=slow_body(), headers=headers))

        async def inside() -> bool:
            return metric((await client.get("/metrics")).text, "http_requests_in_flight") >= 1

        await eventually(inside, interval=0.05)

        shed = await client.post("/complaints", json=complaint(), headers=WEB)
        assert shed.status_code == 503
        assert shed.headers["Retry-After"] == "1"
        assert "capacity" in shed.json()["detail"]
        assert await client.get("/healthz") is not None  # never shed

        release.set()
        accepted = await held
        assert accepted.status_code == 201, accepted.text

        metrics = (await client.get("/metrics")).text
        assert metric(metrics, "http_requests_shed_total", '{reason="queue_full"}') == 1
        listed = await client.get("/complaints", headers=CRM)
        assert [c["complaint_id"] for c in listed.json()["items"]] == [
            accepted.json()["complaint_id"]
        ]
