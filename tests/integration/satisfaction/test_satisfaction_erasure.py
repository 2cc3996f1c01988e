"""Satisfaction's erasure: live, and in a rebuild from the topics that replays the answers
(the erasure must win even when the answer is read after it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from services.satisfaction.erasure import handlers as erasure_handlers
from services.satisfaction.rebuild import rebuild
from services.satisfaction.settings import SatisfactionSettings
from shared.db import create_engine, session_factory
from shared.events.common import SatisfactionLevel, Tier
from shared.events.envelope import new_event
from shared.events.privacy import CustomerErasureRequested, ErasureReason
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.messaging import inbox
from shared.privacy import pseudonym_for
from tests.integration.satisfaction.test_satisfaction_store import publish

COMMENT = "请打 13800138000 找李娜"


def answer(complaint_id: uuid.UUID):
    return new_event(
        "/test/satisfaction",
        str(complaint_id),
        SurveyRecorded(
            complaint_id=complaint_id,
            survey_id=None,
            cycle=1,
            level=SatisfactionLevel.SATISFIED,
            score=5,
            factors=[],
            comment=COMMENT,
            taken_by="agent:x",
            recorded_at=datetime.now(UTC),
            customer_id="c-erase-me",
            tier=Tier.B,
        ),
    )


def erasure(complaint_id: uuid.UUID):
    erasure_id = uuid.uuid4()
    return new_event(
        "/test/intake",
        str(complaint_id),
        CustomerErasureRequested(
            erasure_id=erasure_id,
            reason=ErasureReason.REQUEST,
            complaint_id=complaint_id,
            pseudonym=pseudonym_for(erasure_id),
            requested_at=datetime.now(UTC),
        ),
    )


async def answers_of(url: str, complaint_id: uuid.UUID) -> list[tuple]:
    engine = create_engine(url, 1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT comment, customer_id, score FROM answers WHERE complaint_id = :c"),
                {"c": complaint_id},
            )
            return [tuple(r) for r in rows]
    finally:
        await engine.dispose()


async def test_a_rebuild_replays_the_erasure_after_the_answers(
    settings: SatisfactionSettings, own_topics: Topics, servers
) -> None:
    complaint_id = uuid.uuid4()
    erased = erasure(complaint_id)
    # The erasure is on the intake topic, the answer on satisfaction's: a rebuild may read
    # the erasure first.
    await publish(
        servers.kafka_bootstrap,
        own_topics,
        [("intake", erased), ("satisfaction", answer(complaint_id))],
    )
    await rebuild(settings)
    pseudonym = erased.data["pseudonym"]
    assert await answers_of(settings.database_url.get_secret_value(), complaint_id) == [
        (None, pseudonym, 5)
    ]


async def test_the_live_handler_erases_and_confirms(
    settings: SatisfactionSettings, own_topics: Topics, servers
) -> None:
    complaint_id = uuid.uuid4()
    await publish(servers.kafka_bootstrap, own_topics, [("satisfaction", answer(complaint_id))])
    await rebuild(settings)  # the answer, stored as the live consumer stores it
    assert await answers_of(settings.database_url.get_secret_value(), complaint_id) == [
        (COMMENT, "c-erase-me", 5)
    ]
    erased = erasure(complaint_id)
    engine = create_engine(settings.database_url.get_secret_value(), 1)
    try:
        handler = erasure_handlers(own_topics)[erased.type]
        async with session_factory(engine).begin() as session:
            assert await inbox.claim(session, erased, own_topics.intake)
            await handler(session, erased)
        async with engine.connect() as conn:
            confirmed = await conn.execute(
                sa.text("SELECT event_type, key FROM outbox WHERE event_type = 'customer.erased'")
            )
            assert [tuple(r) for r in confirmed] == [("customer.erased", str(complaint_id))]
    finally:
        await engine.dispose()
    pseudonym = erased.data["pseudonym"]
    assert await answers_of(settings.database_url.get_secret_value(), complaint_id) == [
        (None, pseudonym, 5)
    ]
