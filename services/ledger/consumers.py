"""Event handlers: every lifecycle event updates its complaint's ledger entry; a finished
case starts the team's report-back clock, a reopened one stops it. Each runs in the
transaction that records the event in the inbox (a redelivery is a no-op)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import reviews
from services.ledger.deps import Deps
from services.ledger.domain.entry import HANDLED, fold
from services.ledger.store import repository as repo
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.consumer import Handler

FINISHING = frozenset({"case.resolved", "case.closed", "case.suspended"})
REOPENING = frozenset({"case.reopened", "complaint.reopened"})


def source_topics(topics: Topics) -> list[str]:
    return [topics.intake, topics.handling, topics.followup, topics.satisfaction]


def handlers(deps: Deps) -> dict[str, Handler]:
    async def on_event(session: AsyncSession, event: Envelope) -> None:
        complaint_id = uuid.UUID(str(event.data["complaint_id"]))
        # Lock order everywhere: the review's timers, then the entry, then the review.
        if event.type in FINISHING or event.type in REOPENING:
            await reviews.lock_clock(session, complaint_id)
        entry = await repo.lock_entry(session, complaint_id)
        fold(entry, event.type, event.data)
        entry.updated_at = datetime.now(UTC)
        await repo.save_entry(session, entry)
        if event.type in FINISHING:
            await reviews.start_report_clock(session, deps, entry, event.type)
        elif event.type in REOPENING:
            await reviews.stop_report_clock(session, complaint_id)

    return dict.fromkeys(HANDLED, on_event)
