"""Intake's store and use cases against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from services.intake import usecases
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.submission import ComplaintSubmission
from services.intake.settings import DEFAULT_REJECTION_ANSWERS
from services.intake.store import repository
from shared.db import session_factory
from shared.events.common import Channel
from shared.events.topics import Topics

SUBMISSION = ComplaintSubmission.model_validate(
    {
        "customer": {"name": "Chen", "phone": "13900000000"},
        "category": "billing",
        "description": "charged twice",
    }
)


async def record(sessions, key: str | None, submission=SUBMISSION):
    return await usecases.record_complaint(
        sessions, Topics("t."), IntakePolicy(), DEFAULT_REJECTION_ANSWERS, submission,
        Channel.WEB, key,
    )  # fmt: skip


async def test_concurrent_requests_with_one_key_record_one_complaint(messaging_engine):
    sessions = session_factory(messaging_engine)
    results = await asyncio.gather(*(record(sessions, "k-1") for _ in range(6)))
    assert len({r.complaint["id"] for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    async with messaging_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM complaints")) == 1
        assert await conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 1


async def test_a_key_reused_with_another_body_is_a_conflict_and_writes_nothing(messaging_engine):
    sessions = session_factory(messaging_engine)
    await record(sessions, "k-2")
    other = SUBMISSION.model_copy(update={"description": "charged three times"})
    try:
        await record(sessions, "k-2", other)
        raise AssertionError("expected a conflict")
    except usecases.IdempotencyConflict:
        pass
    async with messaging_engine.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM complaints")) == 1


async def test_old_idempotency_keys_are_forgotten(messaging_engine):
    sessions = session_factory(messaging_engine)
    await record(sessions, "old")
    await record(sessions, "fresh")
    async with sessions.begin() as session:
        await session.execute(
            sa.text("UPDATE idempotency_keys SET created_at = now() - interval '8 days' "
                    "WHERE key = 'old'")
        )  # fmt: skip
        assert await repository.forget_idempotency_keys(session, 7) == 1
    async with messaging_engine.connect() as conn:
        keys = (await conn.execute(sa.text("SELECT key FROM idempotency_keys"))).scalars().all()
    assert keys == ["fresh"]


async def test_status_events_out_of_order_do_not_move_the_status_back(messaging_engine):
    from datetime import timedelta

    from shared.events.envelope import Envelope

    sessions = session_factory(messaging_engine)
    complaint = (await record(sessions, None)).complaint
    cid = str(complaint["id"])
    at = complaint["received_at"]
    resolved = Envelope(source="/t", type="case.resolved", subject=cid, data={},
                        time=at + timedelta(minutes=5))  # fmt: skip
    opened = Envelope(source="/t", type="case.opened", subject=cid, data={"level": "frontline"},
                      time=at + timedelta(minutes=1))  # fmt: skip
    for event in (resolved, opened):  # the later event first
        async with sessions.begin() as session:
            await usecases.follow_status(session, event)
    async with sessions() as session:
        shown = await repository.get_complaint(session, uuid.UUID(cid))
    assert shown is not None and shown["status"] == "resolved"
