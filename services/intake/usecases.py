"""Intake's use cases: each one transaction in which the state change and the events it
causes are written together (the outbox relay publishes them after commit)."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.domain import contact_chase
from services.intake.domain.access import ApiClient
from services.intake.domain.contact_chase import ChasePolicy
from services.intake.domain.rules import IntakePolicy, acknowledge_by, assess, missing_contact
from services.intake.domain.status import RESUME_EVENT, Status, status_after
from services.intake.domain.submission import ComplaintSubmission, CustomerIn
from services.intake.store import recording
from services.intake.store import repository as repo
from services.intake.store.recording import IdempotencyKey, OutboxEvent, Recorder
from shared import timers
from shared.events.common import Channel, Mode, Severity, Tier, mode_of
from shared.events.envelope import Envelope, new_event
from shared.events.intake import (
    ComplaintCompleted,
    ComplaintReceived,
    ComplaintRejected,
    Customer,
)
from shared.events.topics import Topics
from shared.messaging import outbox
from shared.messaging.outbox import shard_of

log = logging.getLogger(__name__)
SOURCE = "/complaint-platform/intake"


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""


class NotFound(Exception):
    pass


class WrongState(Exception):
    pass


@dataclass(frozen=True)
class Recorded:
    complaint: dict[str, Any]
    replayed: bool


# What of the customer's record travels: the consumers that contact the customer need these
# (shared/events/intake.py says who); organisation, address and relation stay in intake.
PUBLISHED_CUSTOMER_FIELDS = frozenset({"id", "name", "phone", "email", "tier"})


def published(customer: dict[str, Any]) -> Customer:
    return Customer.model_validate(
        {k: v for k, v in customer.items() if k in PUBLISHED_CUSTOMER_FIELDS}
    )


def request_hash(submission: ComplaintSubmission) -> str:
    canonical = json.dumps(submission.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def record_complaint(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    policy: IntakePolicy,
    answers: dict[str, tuple[str, str]],
    submission: ComplaintSubmission,
    channel: Channel,
    idempotency_key: str | None,
    chase: ChasePolicy | None = None,
    recorder: Recorder | None = None,
) -> Recorded:
    """The complaint, its first status, its event and its Idempotency-Key are written by one
    statement (store.recording): on ``recorder``'s pool, one round trip; without one, in a
    transaction of ``sessions``. A key already taken writes nothing and answers the
    complaint it was taken for (or a conflict, for another body)."""
    complaint_id = uuid.uuid4()
    now = datetime.now(UTC)
    key = None
    if idempotency_key:
        key = IdempotencyKey(channel.value, idempotency_key, request_hash(submission))
    mode = mode_of(channel)
    found = assess(submission, mode, now, policy)
    values: dict[str, Any] = {
        "id": complaint_id,
        "channel": channel.value,
        "category": submission.category,
        "status": found.status,
        "severity": found.severity.value,
        "severity_reasons": found.severity_reasons,
        "valid": found.rejection is None,
        "rejection_reason": found.rejection.value if found.rejection else None,
        "customer_id": submission.customer.id,
        "customer_tier": submission.customer.tier.value,
        "customer": submission.customer.model_dump(mode="json"),
        "description": submission.description,
        "subject": submission.subject.model_dump(mode="json") if submission.subject else None,
        "expected_outcome": (
            submission.expected_outcome.model_dump(mode="json")
            if submission.expected_outcome
            else None
        ),
        "documents": [d.model_dump(mode="json") for d in submission.documents],
        "flags": submission.flags.model_dump(),
        "in_litigation": submission.in_litigation,
        "covered": submission.covered,
        "missing_fields": found.missing_fields,
        "received_at": now,
        "acknowledge_by": found.acknowledge_by,
        "status_changed_at": now,
    }
    envelope = _event_for(values, submission, mode, answers)
    event = OutboxEvent(
        envelope.id, topics.intake, shard_of(envelope.subject), envelope.type, envelope.to_bytes()
    )
    if recorder is not None and found.status != Status.AWAITING_INFORMATION:
        fresh = await recorder.record(values, event, key)
    else:
        # A transaction of the engine: what else a complaint may need is written with it in
        # the same commit (an incomplete one's reminders, say), after the statement.
        async with sessions.begin() as session:
            raw = await (await session.connection()).get_raw_connection()
            fresh = await recording.record(raw.driver_connection, values, event, key)
            if fresh and found.status == Status.AWAITING_INFORMATION:
                # Reminders, then closed as unreachable: durable, cancelled once complete.
                for step in contact_chase.schedule(now, chase or ChasePolicy()):
                    await timers.arm(
                        session,
                        step.kind,
                        str(complaint_id),
                        step.due_at,
                        {"reminder": step.reminder},
                    )
    if not fresh:
        assert key is not None  # only a taken key writes nothing
        return await _replay(sessions, key)
    log.info(
        "complaint recorded",
        extra={
            "complaint_id": str(complaint_id),
            "channel": channel.value,
            "status": found.status,
            "severity": found.severity.value,
        },
    )
    return Recorded(values, replayed=False)


async def _replay(sessions: async_sessionmaker[AsyncSession], key: IdempotencyKey) -> Recorded:
    async with sessions() as session:
        claim = await repo.get_idempotency_key(session, key.channel, key.key)
        if claim.request_hash != key.request_hash:
            raise IdempotencyConflict
        existing = await repo.get_complaint(session, claim.complaint_id)
    assert existing is not None  # written by the same statement as the key
    return Recorded(existing, replayed=True)


def _event_for(
    values: dict[str, Any],
    submission: ComplaintSubmission,
    mode: Mode,
    answers: dict[str, tuple[str, str]],
) -> Envelope:
    customer = published(values["customer"])
    subject = str(values["id"])
    if values["rejection_reason"]:
        explanation, other_channel = answers[values["rejection_reason"]]
        return new_event(
            SOURCE,
            subject,
            ComplaintRejected(
                complaint_id=values["id"],
                received_at=values["received_at"],
                channel=values["channel"],
                category=values["category"],
                customer=customer,
                reason=values["rejection_reason"],
                explanation=explanation,
                other_channel=other_channel,
            ),
            time=values["received_at"],
        )
    return new_event(
        SOURCE,
        subject,
        ComplaintReceived(
            complaint_id=values["id"],
            received_at=values["received_at"],
            channel=values["channel"],
            mode=mode,
            category=values["category"],
            severity=values["severity"],
            severity_reasons=values["severity_reasons"],
            customer=customer,
            description=values["description"],
            subject=submission.subject,
            expected_outcome=submission.expected_outcome,
            documents=submission.documents,
            information_complete=not values["missing_fields"],
            missing_fields=values["missing_fields"],
            acknowledge_by=values["acknowledge_by"],
        ),
        time=values["received_at"],
    )


async def complete_contact(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    policy: IntakePolicy,
    complaint_id: uuid.UUID,
    contact: CustomerIn,
    client: ApiClient,
) -> dict[str, Any]:
    """Merge the contact data a customer supplied; once complete, the complaint's clocks start
    (``complaint.completed``). Another channel's complaint is not found, unless the caller
    may read it and changes nothing but the tier (the route checked the scopes)."""
    async with sessions.begin() as session:
        complaint = await repo.lock_complaint(session, complaint_id)
        if complaint is None:
            raise NotFound
        channel = complaint["channel"]
        only_tier = contact.model_fields_set <= {"tier"}
        if not (client.may_complete(channel) or (only_tier and client.may_read(channel))):
            raise NotFound
        supplied = contact.model_dump(exclude_unset=True, mode="json")
        return await complete(session, topics, policy, complaint, supplied)


async def complete(
    session: AsyncSession,
    topics: Topics,
    policy: IntakePolicy,
    complaint: dict[str, Any],
    supplied: dict[str, Any],
) -> dict[str, Any]:
    """In the caller's transaction, with the complaint's row locked (a closing timer firing at
    the same moment waits, then finds it no longer awaiting information)."""
    now = datetime.now(UTC)
    complaint_id = complaint["id"]
    if complaint.get("anonymised_at") is not None:
        raise WrongState("the complaint's personal data was erased")
    if complaint["status"] != Status.AWAITING_INFORMATION:
        raise WrongState(f"the complaint is {complaint['status']}, not awaiting information")
    merged = CustomerIn.model_validate(complaint["customer"] | supplied)
    missing = missing_contact(merged, policy)
    changes: dict[str, Any] = {
        "customer": merged.model_dump(mode="json"),
        "missing_fields": missing,
        "customer_tier": merged.tier.value,
        "customer_id": merged.id,
    }
    if missing:
        await repo.update_complaint(session, complaint_id, changes)
        return complaint | changes
    due = acknowledge_by(
        now,
        mode_of(Channel(complaint["channel"])),
        Tier(merged.tier),
        Severity(complaint["severity"]),
        policy,
    )
    changes["acknowledge_by"] = due
    await repo.set_status(
        session, complaint_id, "received", ComplaintCompleted.event_type, None, now, **changes
    )
    await timers.cancel(session, str(complaint_id), contact_chase.KINDS)
    event = new_event(
        SOURCE,
        str(complaint_id),
        ComplaintCompleted(
            complaint_id=complaint_id,
            completed_at=now,
            customer=published(changes["customer"]),
            acknowledge_by=due,
        ),
        time=now,
    )
    await outbox.add(session, topics.intake, [event])
    return complaint | changes | {"status": "received", "status_changed_at": now}


# Events that carry the deadlines escalation promises (the clocks' ends).
DEADLINE_EVENTS = frozenset({"case.opened", "case.resumed", "case.reopened"})


async def follow_status_many(session: AsyncSession, events: list[Envelope]) -> None:
    """``follow_status`` for a batch of status-moving events (the consumer's batch handler):
    in waves of at most one event per complaint, in order, each wave two statements."""
    waves: list[list[repo.StatusMove]] = []
    depth: dict[uuid.UUID, int] = {}
    for event in events:
        status = status_after(event.type)
        try:
            complaint_id = uuid.UUID(event.subject)
        except ValueError:
            complaint_id = None
        if status is None or complaint_id is None:
            await follow_status(session, event)  # logged and skipped there, as one by one
            continue
        level = event.data.get("to_level") or event.data.get("level")
        deadlines = event.data.get("deadlines")
        if event.type in DEADLINE_EVENTS and isinstance(deadlines, dict):
            deadlines = {k: v for k, v in deadlines.items() if isinstance(v, str)}
        else:
            deadlines = None
        wave = depth.get(complaint_id, 0)
        depth[complaint_id] = wave + 1
        if wave == len(waves):
            waves.append([])
        waves[wave].append(
            repo.StatusMove(
                complaint_id, status, event.type, event.id, event.time,
                level if isinstance(level, str) else None, deadlines,
            )
        )  # fmt: skip
    for wave in waves:
        await repo.set_statuses(session, wave)


async def follow_status(session: AsyncSession, event: Envelope) -> None:
    """Consumer handler: move the complaint's status along the other services' events."""
    try:
        complaint_id = uuid.UUID(event.subject)
    except ValueError:
        log.warning(
            "status event for a subject that is not a complaint id",
            extra={"subject": event.subject},
        )
        return
    if event.type == RESUME_EVENT:
        status = await repo.status_before_pause(session, complaint_id)
    else:
        status = status_after(event.type)
    changes: dict[str, Any] = {}
    level = event.data.get("to_level") or event.data.get("level")
    if isinstance(level, str):
        changes["escalation_level"] = level
    deadlines = event.data.get("deadlines")
    if event.type in DEADLINE_EVENTS and isinstance(deadlines, dict):
        changes["deadlines"] = {k: v for k, v in deadlines.items() if isinstance(v, str)}
    if status is None:
        if changes:
            await repo.update_complaint(session, complaint_id, changes)
        return
    moved = await repo.set_status(
        session, complaint_id, status, event.type, event.id, event.time, **changes
    )
    if not moved:
        log.info(
            "status event older than the current status, or unknown complaint",
            extra={"complaint_id": str(complaint_id), "type": event.type},
        )
