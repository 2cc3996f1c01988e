"""The satisfaction service as a real process: answers by token, the alert raised once when
the rate falls below target and again only after a recovery, and the dashboard rendered in a
real headless Chromium."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.events.common import ContactCard, Tier
from shared.events.envelope import new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.topics import Topics
from shared.events.versions import token_sha256
from shared.messaging.admin import ensure_topics
from tests.e2e.conftest import OPS_TOKENS
from tests.e2e.satisfaction.browser import dump_dom, rendered_charts, screenshot
from tests.support.kafka import read_until
from tests.support.topics import delete_topics_with_prefix
from tests.support.waiting import eventually

AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}


@pytest.fixture
async def own_topics(servers) -> AsyncIterator[Topics]:
    """This test's topics, deleted at the end (set up before the services, so torn down
    after them)."""
    found = Topics(f"test-sat-e2e-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    yield found
    await delete_topics_with_prefix(servers.kafka_bootstrap, found.prefix)


async def test_alert_once_below_target_again_after_recovery_and_dashboard(
    own_topics, start_service, servers, tmp_path
):
    topics = own_topics
    service = await start_service(
        "satisfaction",
        KAFKA_TOPIC_PREFIX=topics.prefix,
        SATISFACTION_ALERT_MIN_ANSWERS="5",
        SATISFACTION_ALERT_WINDOW_DAYS="1",
        SATISFACTION_ALERT_CHECK_SECONDS="0.3",
        SATISFACTION_ALERT_DIMENSIONS='["all", "tier"]',
    )
    tiers = [Tier.A, Tier.B, Tier.C]
    now = datetime.now(UTC)
    requests = [
        SurveyRequested(
            survey_id=uuid.uuid4(), complaint_id=uuid.uuid4(), callback_id=uuid.uuid4(), cycle=1,
            customer=ContactCard(id=f"cust-{i}", tier=tiers[i % 3]),
            requested_at=now, reason=SurveyReason.SATISFIED,
        )
        for i in range(30)
    ]  # fmt: skip
    # The tokens of the links, and survey.invited as the notification service publishes it.
    chosen = [f"tok-{i}-{uuid.uuid4().hex}" for i in range(30)]
    invitations = [
        SurveyInvited(
            survey_id=r.survey_id, complaint_id=r.complaint_id, token_sha256=token_sha256(t),
            expires_at=now + timedelta(days=14), at=now,
        )
        for r, t in zip(requests, chosen, strict=True)
    ]  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap)
    await producer.start()
    try:
        for topic, items in ((topics.followup, requests), (topics.notify, invitations)):
            for r in items:
                event = new_event("/e2e/upstream", str(r.complaint_id), r)
                await producer.send_and_wait(topic, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()
    tokens = iter(chosen)

    async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=AGENT) as http:

        async def summary() -> dict:
            answer = await http.get("/reports/summary")
            assert answer.status_code == 200, answer.text
            return answer.json()["overall"]

        await eventually(lambda: _true_if(summary(), lambda v: v["surveys_requested"] == 30))

        async def all_invited() -> bool:
            for t in chosen:
                if (await http.get(f"/surveys/{t}")).status_code != 200:
                    return False
            return True

        await eventually(all_invited)

        async def answer(level: int, count: int, factors: list[str]) -> None:
            for _ in range(count):
                done = await http.post(
                    f"/surveys/{next(tokens)}", json={"level": level, "factors": factors}
                )
                assert done.status_code == 201, done.text

        async def alerting() -> bool:
            items = (await http.get("/alerts")).json()["items"]
            return any(i["dimension"] == "all" and i["alerting"] for i in items)

        await answer(6, 5, ["attitude"])  # 5/5
        await asyncio.sleep(1)
        assert not await alerting()
        await answer(1, 2, ["speed", "solution"])  # 5/7 = 71 %: below 85 %
        await eventually(alerting)
        await answer(1, 2, ["speed"])  # 5/9: still below, no second alert
        await asyncio.sleep(1.2)
        await answer(6, 18, ["solution"])  # 23/27 = 85.2 %: recovered
        await eventually(lambda: _not(alerting()))
        await answer(2, 1, ["communication"])  # 23/28 = 82.1 %: below again
        await eventually(alerting)
        await asyncio.sleep(1.2)

        s = await summary()
        assert s["answers"] == 28 and s["surveys_answered"] == 28
        assert s["satisfaction_rate"]["value"] == 23 / 28
        assert s["satisfaction_rate"]["meets_target"] is False
        assert s["response_rate"]["value"] == 28 / 30
        # Of the 5 answers neutral and below, 4 name speed (a share of answers, not mentions).
        assert s["factors"]["low"][0] == {"factor": "speed", "count": 4, "share": 4 / 5}

        alerts = await read_until(
            servers.kafka_bootstrap,
            topics.satisfaction,
            lambda kept: len(kept) >= 2,
            lambda r: r.value.get("type") == "satisfaction.alert" and r.key == "all:all",
            timeout=20,
        )
        assert len({a.value["id"] for a in alerts}) == 2
        first, second = (a.value["data"] for a in alerts[:2])
        # Below target from the first low answer on (5/6 = 83 %): the watcher may look
        # between the two low answers or after both.
        assert first["answers"] in (6, 7) and first["value"] == 5 / first["answers"]
        assert (second["answers"], second["value"]) == (28, 23 / 28)
        assert first["target"] == 0.85 and first["window_days"] == 1

        # The dashboard, as a manager's browser shows it: every chart drawn.
        page = f"{service.url}/dashboard#token={OPS_TOKENS['supervisor']}"
        dom = dump_dom(page)
        charts = rendered_charts(dom)
        assert set(charts) == {
            "trend", "levels", "by-channel", "by-category", "by-tier", "sla", "cycles", "factors",
            "factor-bands", "factors-by-tier", "churn", "returns", "pyramid", "retention-calls",
            "rejections", "expectation", "waits",
        }  # fmt: skip
        assert charts["churn"] == 6 and charts["returns"] == 4  # a bar per level, per group
        assert charts["levels"] == 6  # six bars
        assert charts["trend"] >= 1  # today's point (a one-point line has no extent)
        assert charts["by-tier"] == 3  # A, B, C
        assert charts["factors"] >= 3
        assert 'data-ready="yes"' in dom and "82.1 %" in dom
        png = screenshot(page, str(tmp_path / "dashboard.png"))
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


async def _true_if(awaitable, test) -> bool:
    return test(await awaitable)


async def _not(awaitable) -> bool:
    return not await awaitable
