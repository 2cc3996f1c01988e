"""Intake's customer link and the chase of incomplete complaints, against the real
PostgreSQL: reminders and closing as unreachable are durable timers fired by the shared
scheduler; the link (known by its hash only) shows the complaint and completes it, which
starts its clocks and cancels the timers; an unknown link is not found, an old one expired."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from services.intake import chase, erasure, links, usecases
from services.intake.app import create_app
from services.intake.domain import contact_chase
from services.intake.domain.contact_chase import ChasePolicy
from services.intake.domain.customer_link import LinkPolicy
from services.intake.domain.rules import IntakePolicy
from services.intake.domain.submission import ComplaintSubmission, ContactIn
from services.intake.settings import DEFAULT_REJECTION_ANSWERS, IntakeSettings
from shared import timers
from shared.db import session_factory
from shared.events.common import Channel
from shared.events.envelope import Envelope, new_event
from shared.events.notify import CustomerLinkIssued
from shared.events.topics import Topics
from shared.timers import TimerScheduler

TOPICS = Topics("it-customerlink.")
LINKS = LinkPolicy()
NOW = timedelta(0)


def incomplete() -> ComplaintSubmission:
    return ComplaintSubmission.model_validate(
        {"customer": {"id": "c-link", "email": "wu.lei@example.test"},
         "category": "delivery", "description": "the parcel never came"}
    )  # fmt: skip


async def record(sessions, chase_policy: ChasePolicy) -> uuid.UUID:
    recorded = await usecases.record_complaint(
        sessions, TOPICS, IntakePolicy(), DEFAULT_REJECTION_ANSWERS, incomplete(),
        Channel.WEB, None, chase_policy,
    )  # fmt: skip
    assert recorded.complaint["status"] == "awaiting_information"
    return recorded.complaint["id"]


async def issue_link(sessions, complaint_id: uuid.UUID) -> str:
    """What notify does: a fresh token, only its hash in customer_link.issued."""
    token = secrets.token_urlsafe(32)
    issued = CustomerLinkIssued(
        complaint_id=complaint_id,
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        at=datetime.now(UTC),
    )
    async with sessions.begin() as session:
        await links.remember_link(session, new_event("/test/notify", str(complaint_id), issued))
    return token


async def outbox_events(engine, complaint_id: uuid.UUID) -> list[tuple[str, dict]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_type, payload FROM outbox WHERE key = :key ORDER BY id"),
            {"key": str(complaint_id)},
        )
        return [(r.event_type, r.payload) for r in rows]


async def fire_all(scheduler: TimerScheduler) -> None:
    while (await scheduler.fire_due())[0]:
        pass


async def test_reminders_then_completion_by_link_starts_the_clocks(messaging_engine):
    sessions = session_factory(messaging_engine)
    chase_policy = ChasePolicy((NOW, timedelta(milliseconds=1)), timedelta(hours=1))
    complaint_id = await record(sessions, chase_policy)
    token = await issue_link(sessions, complaint_id)

    scheduler = TimerScheduler(messaging_engine, chase.chase_handlers(TOPICS))
    await fire_all(scheduler)
    types = [t for t, _ in await outbox_events(messaging_engine, complaint_id)]
    assert types.count("complaint.contact_reminder_due") == 2

    view = await links.customer_view(sessions, LINKS, token)
    assert view.complaint["status"] == "awaiting_information"
    assert view.complaint["reminders_sent"] == 2
    assert view.closes_at is not None and view.expires_at is None
    page, _ = await chase.awaiting_information(sessions, None, 50)
    (listed,) = [row for row in page if row["id"] == complaint_id]
    assert listed["reminders_sent"] == 2 and listed["closes_at"] == view.closes_at

    # The same rules as the channel's path: a bad phone is a field error, nothing written.
    with pytest.raises(ValueError, match="phone"):
        ContactIn.model_validate({"phone": "call me"})
    # Name still missing: recorded, still awaiting.
    half = await links.complete_by_link(
        sessions, TOPICS, IntakePolicy(), LINKS, token, ContactIn(phone="+86 139 0000 0000")
    )
    assert half["status"] == "awaiting_information"
    assert half["missing_fields"] == ["customer.name"]
    done = await links.complete_by_link(
        sessions, TOPICS, IntakePolicy(), LINKS, token, ContactIn(name="Wu Lei")
    )
    assert done["status"] == "received" and done["acknowledge_by"] is not None
    events = await outbox_events(messaging_engine, complaint_id)
    completed = [p for t, p in events if t == "complaint.completed"]
    assert len(completed) == 1
    assert completed[0]["data"]["customer"]["name"] == "Wu Lei"
    assert token not in str(events)
    async with messaging_engine.connect() as conn:
        pending = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM timers WHERE subject = :s "
                "AND fired_at IS NULL AND cancelled_at IS NULL"
            ),
            {"s": str(complaint_id)},
        )
    assert pending == 0  # the closing timer was cancelled with the completion
    with pytest.raises(usecases.WrongState):
        await links.complete_by_link(
            sessions, TOPICS, IntakePolicy(), LINKS, token, ContactIn(name="Wu Lei")
        )


async def test_never_completed_it_is_closed_as_unreachable_and_the_link_expires_later(
    messaging_engine,
):
    sessions = session_factory(messaging_engine)
    chase_policy = ChasePolicy((NOW,), timedelta(milliseconds=1))
    complaint_id = await record(sessions, chase_policy)
    token = await issue_link(sessions, complaint_id)
    await fire_all(TimerScheduler(messaging_engine, chase.chase_handlers(TOPICS)))

    events = await outbox_events(messaging_engine, complaint_id)
    (closed,) = [p for t, p in events if t == "complaint.closed_unreachable"]
    assert closed["data"]["reminders_sent"] == 1
    view = await links.customer_view(sessions, LINKS, token)
    assert view.complaint["status"] == "closed_unreachable"
    assert view.expires_at is not None  # valid for a while after closing
    assert [h["status"] for h in view.history] == ["awaiting_information", "closed_unreachable"]
    with pytest.raises(usecases.WrongState):
        await links.complete_by_link(
            sessions, TOPICS, IntakePolicy(), LINKS, token, ContactIn(name="Wu Lei")
        )
    with pytest.raises(links.LinkExpired):
        await links.customer_view(sessions, LinkPolicy(timedelta(0)), token)
    with pytest.raises(links.UnknownLink):
        await links.customer_view(sessions, LINKS, secrets.token_urlsafe(32))


async def test_the_promised_times_follow_the_case_events(messaging_engine):
    sessions = session_factory(messaging_engine)
    recorded = await usecases.record_complaint(
        sessions, TOPICS, IntakePolicy(), DEFAULT_REJECTION_ANSWERS,
        ComplaintSubmission.model_validate(
            {"customer": {"name": "Wu Lei", "phone": "13900000000"}, "category": "delivery",
             "description": "late"}
        ),
        Channel.WEB, None,
    )  # fmt: skip
    complaint_id = recorded.complaint["id"]
    token = await issue_link(sessions, complaint_id)
    deadlines = {"acknowledge": "2026-11-26T10:00:00+00:00", "plan": "2026-11-28T10:00:00+00:00"}
    opened = Envelope(
        source="/test/escalation",
        type="case.opened",
        subject=str(complaint_id),
        data={"complaint_id": str(complaint_id), "level": "frontline", "deadlines": deadlines},
    )
    async with sessions.begin() as session:
        await usecases.follow_status(session, opened)
    view = await links.customer_view(sessions, LINKS, token)
    assert view.complaint["status"] == "open"
    assert view.complaint["deadlines"] == deadlines
    async with messaging_engine.connect() as conn:
        timers = await conn.scalar(
            sa.text("SELECT count(*) FROM timers WHERE subject = :s"), {"s": str(complaint_id)}
        )
    assert timers == 0  # a complete complaint is not chased


async def test_the_link_api_answers_only_to_the_token_and_checks_like_the_channel(databases):
    settings = IntakeSettings(
        database_url=await databases.create("intake"),
        api_keys="web:k-web",
        kafka_topic_prefix="it-customerlink.",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            posted = await http.post(
                "/complaints",
                headers={"X-API-Key": "k-web"},
                json={"customer": {"email": "wu.lei@example.test"}, "category": "delivery",
                      "description": "The parcel never came."},
            )  # fmt: skip
            assert posted.status_code == 201, posted.text
            token = await issue_link(
                app.state.runtime.sessions, uuid.UUID(posted.json()["complaint_id"])
            )
            link = {"X-Complaint-Link": token}

            assert (await http.get("/my-complaint")).status_code == 401
            unknown = await http.get("/my-complaint", headers={"X-Complaint-Link": "nope"})
            assert unknown.status_code == 404
            mine = await http.get("/my-complaint", headers=link)
            assert mine.status_code == 200, mine.text
            assert mine.json()["status"] == "awaiting_information"
            assert "customer" not in mine.json() and "description" not in mine.json()

            for body, field in (
                ({}, "body"),
                ({"phone": "call me"}, "phone"),
                ({"tier": "VIP"}, "tier"),  # not the customer's to set
            ):
                refused = await http.post("/my-complaint/contact", json=body, headers=link)
                assert refused.status_code == 422, refused.text
                assert refused.json()["detail"][0]["loc"][-1] == field
            done = await http.post("/my-complaint/contact", json={"name": "Wu Lei"}, headers=link)
            assert done.status_code == 200 and done.json()["status"] == "received"
            again = await http.post("/my-complaint/contact", json={"name": "X"}, headers=link)
            assert again.status_code == 409

            assert (await http.get("/incomplete-complaints")).status_code == 401
    finally:
        await app.state.runtime.engine.dispose()


async def test_an_erased_complaint_is_no_longer_chased_nor_closed(messaging_engine):
    sessions = session_factory(messaging_engine)
    customer_id = f"c-erased-{uuid.uuid4()}"  # erasing it touches no other test's complaint
    recorded = await usecases.record_complaint(
        sessions, TOPICS, IntakePolicy(), DEFAULT_REJECTION_ANSWERS,
        ComplaintSubmission.model_validate(
            {"customer": {"id": customer_id, "email": "wu.lei@example.test"},
             "category": "delivery", "description": "the parcel never came"}
        ),
        Channel.WEB, None, ChasePolicy((NOW,), timedelta(milliseconds=1)),
    )  # fmt: skip
    complaint_id = recorded.complaint["id"]
    subject = str(complaint_id)
    async with sessions() as session:
        assert {t.kind for t in await timers.pending(session, subject)} == set(contact_chase.KINDS)

    erased = await erasure.erase_customer(sessions, TOPICS, customer_id)
    assert erased.complaints == 1
    async with sessions() as session:
        assert await timers.pending(session, subject) == []  # cancelled with the erasure
    page, _ = await chase.awaiting_information(sessions, None, 500)
    assert complaint_id not in [row["id"] for row in page]

    # A timer a scheduler was firing while the erasure ran is not cancelled (see
    # erasure._anonymise_all): its handler must leave the erased complaint alone.
    async with sessions.begin() as session:
        await timers.arm(session, contact_chase.REMINDER, subject, datetime.now(UTC))
        await timers.arm(session, contact_chase.CLOSE, subject, datetime.now(UTC))
    await fire_all(TimerScheduler(messaging_engine, chase.chase_handlers(TOPICS)))
    async with sessions() as session:
        assert await timers.pending(session, subject) == []  # fired, doing nothing
    types = [t for t, _ in await outbox_events(messaging_engine, complaint_id)]
    assert "complaint.closed_unreachable" not in types
    assert "complaint.contact_reminder_due" not in types
    async with messaging_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT status, reminders_sent, anonymised_at FROM complaints "
                        "WHERE id = :id"),
                {"id": complaint_id},
            )
        ).one()  # fmt: skip
    assert row.status == "awaiting_information" and row.reminders_sent == 0
    assert row.anonymised_at is not None
