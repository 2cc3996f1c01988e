"""Incomplete complaints (awaiting the customer's contact data): reminders, then closed as
unreachable, on durable timers armed when the complaint is recorded and cancelled when it is
completed (services/intake/usecases.py)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.domain import contact_chase
from services.intake.domain.status import Status
from services.intake.store import repository as repo
from services.intake.usecases import SOURCE
from shared import timers
from shared.events.envelope import new_event
from shared.events.intake import ComplaintClosedUnreachable, ComplaintContactReminderDue
from shared.events.topics import Topics
from shared.messaging import outbox

log = logging.getLogger(__name__)

REMINDERS = Counter(
    "intake_contact_reminders_total", "Reminders to complete contact data, published"
)
CLOSED_UNREACHABLE = Counter(
    "intake_closed_unreachable_total", "Complaints closed as unreachable (contact data never came)"
)
AWAITING = Gauge(
    "intake_awaiting_information", "Complaints awaiting the customer's contact data right now"
)


def _still_chased(complaint: dict[str, Any] | None) -> bool:
    """Awaiting the customer's data and not erased (an erasure cancels the timers, but one
    already firing then still arrives here)."""
    return (
        complaint is not None
        and complaint["status"] == Status.AWAITING_INFORMATION
        and complaint["anonymised_at"] is None
    )


def chase_handlers(topics: Topics) -> dict[str, timers.TimerHandler]:
    async def remind(session: AsyncSession, timer: timers.Timer) -> None:
        complaint_id = uuid.UUID(timer.subject)
        complaint = await repo.lock_complaint(session, complaint_id)
        if not _still_chased(complaint):
            return  # completed or erased meanwhile: nothing to remind of
        pending = await timers.pending(session, timer.subject)
        closes_at = next((t.due_at for t in pending if t.kind == contact_chase.CLOSE), timer.due_at)
        now = datetime.now(UTC)
        reminder = int(timer.payload.get("reminder") or complaint["reminders_sent"] + 1)
        await repo.update_complaint(
            session, complaint_id, {"reminders_sent": complaint["reminders_sent"] + 1}
        )
        due = ComplaintContactReminderDue(
            complaint_id=complaint_id,
            reminder=reminder,
            missing_fields=complaint["missing_fields"],
            received_at=complaint["received_at"],
            closes_at=closes_at,
            at=now,
        )
        await outbox.add(session, topics.intake, [new_event(SOURCE, timer.subject, due, time=now)])
        REMINDERS.inc()
        log.info(
            "contact reminder due", extra={"complaint_id": timer.subject, "reminder": reminder}
        )

    async def close(session: AsyncSession, timer: timers.Timer) -> None:
        complaint_id = uuid.UUID(timer.subject)
        complaint = await repo.lock_complaint(session, complaint_id)
        if not _still_chased(complaint):
            return  # completed or erased meanwhile: an erased complaint is not closed
        now = datetime.now(UTC)
        await repo.set_status(
            session,
            complaint_id,
            Status.CLOSED_UNREACHABLE,
            ComplaintClosedUnreachable.event_type,
            None,
            now,
        )
        await timers.cancel(session, timer.subject, [contact_chase.REMINDER])
        closed = ComplaintClosedUnreachable(
            complaint_id=complaint_id,
            received_at=complaint["received_at"],
            closed_at=now,
            channel=complaint["channel"],
            category=complaint["category"],
            missing_fields=complaint["missing_fields"],
            reminders_sent=complaint["reminders_sent"],
        )
        await outbox.add(
            session, topics.intake, [new_event(SOURCE, timer.subject, closed, time=now)]
        )
        CLOSED_UNREACHABLE.inc()
        log.info("complaint closed as unreachable", extra={"complaint_id": timer.subject})

    return {contact_chase.REMINDER: remind, contact_chase.CLOSE: close}


async def awaiting_information(
    sessions: async_sessionmaker[AsyncSession],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    async with sessions() as session:
        return await repo.awaiting_information(session, after, limit)


async def count_awaiting(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await repo.count_awaiting_information(session)
    AWAITING.set(count)
    return count
