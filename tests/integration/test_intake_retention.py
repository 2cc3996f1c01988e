"""Intake's retention sweep and erasure against the real PostgreSQL: replicas sweeping at
once anonymise each expired complaint exactly once; open complaints are left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from services.intake import erasure
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.submission import ComplaintSubmission
from services.intake.settings import DEFAULT_REJECTION_ANSWERS
from services.intake.usecases import record_complaint
from shared.db import session_factory
from shared.events.common import Channel
from shared.events.topics import Topics

TOPICS = Topics("it-retention.")


def submission(customer: str, rejected: bool) -> ComplaintSubmission:
    return ComplaintSubmission.model_validate(
        {"customer": {"id": customer, "name": "Chen Jing", "phone": "13900000000"},
         "category": "billing", "description": "charged twice, call 13900000000",
         "in_litigation": rejected}
    )  # fmt: skip


async def test_replicas_sweeping_together_anonymise_each_complaint_once(messaging_engine):
    sessions = session_factory(messaging_engine)
    for i in range(30):
        await record_complaint(
            sessions, TOPICS, IntakePolicy(), DEFAULT_REJECTION_ANSWERS,
            submission(f"c-{i}", rejected=i % 3 != 0), Channel.WEB, None,
        )  # fmt: skip

    async def replica() -> int:
        done = 0
        while found := await erasure.anonymise_expired(
            sessions, TOPICS, ["rejected", "closed"], timedelta(0), batch=3
        ):
            done += found
        return done

    swept = await asyncio.gather(*(replica() for _ in range(3)))
    assert sum(swept) == 20  # the rejected ones; the 10 received are not closed
    async with messaging_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT status, anonymised_at IS NOT NULL, customer::text, description "
                        "FROM complaints")
            )
        ).all()  # fmt: skip
        erasures = await conn.scalar(sa.text("SELECT count(*) FROM erasures"))
        requests = await conn.scalar(
            sa.text("SELECT count(*) FROM outbox WHERE event_type = 'customer.erasure_requested'")
        )
    for status, anonymised, customer, description in rows:
        assert anonymised == (status == "rejected")
        assert ("Chen Jing" in customer) != anonymised
        assert ("13900000000" in description) != anonymised
    assert erasures == requests == 20  # one erasure, one request per complaint


async def test_erasing_a_customer_anonymises_all_their_complaints_once(messaging_engine):
    sessions = session_factory(messaging_engine)
    for rejected in (False, True, False):
        await record_complaint(
            sessions, TOPICS, IntakePolicy(), DEFAULT_REJECTION_ANSWERS,
            submission("c-erase", rejected), Channel.HOTLINE, None,
        )  # fmt: skip
    first = await erasure.erase_customer(sessions, TOPICS, "c-erase")
    assert first.complaints == 3
    again = await erasure.erase_customer(sessions, TOPICS, "c-erase")
    assert again.complaints == 0  # nothing left under that id; harmless
    async with messaging_engine.connect() as conn:
        left = await conn.scalar(
            sa.text("SELECT count(*) FROM complaints WHERE customer::text LIKE '%Chen Jing%'")
        )
        requests = (
            await conn.execute(
                sa.text("SELECT key, payload::text FROM outbox "
                        "WHERE event_type = 'customer.erasure_requested'")
            )
        ).all()  # fmt: skip
    assert left == 0
    # Per erasure: one request per complaint and one for the customer's own records, whose
    # key is the pseudonym (the customer id travels in that one request only).
    mentioning = [key for key, payload in requests if '"c-erase"' in payload]
    assert len(requests) == 3 + 1 + 1 and len(mentioning) == 2
    assert all(key.startswith("erased-") for key in mentioning)
