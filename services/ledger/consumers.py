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
from services.ledger.domain.erasure import erase
from services.ledger.store import repository as repo
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.consumer import BatchHandler, Handler

FINISHING = frozenset({"case.resolved", "case.closed", "case.suspended"})
REOPENING = frozenset({"case.reopened", "complaint.reopened"})


def source_topics(topics: Topics) -> list[str]:
    return [topics.intake, topics.handling, topics.followup, topics.satisfaction]


def complaint_of(event: Envelope) -> uuid.UUID:
    return uuid.UUID(str(event.data["complaint_id"]))


class LockOrder:
    """The consumer's batch hooks: every transaction takes its locks in one order, so two
    batches (two partitions of two topics carry the same complaint, two replicas) never
    deadlock: the entries of the batch's complaints sorted by id, then the pending report
    timers of those that finish or reopen (the timer scheduler, which holds a timer while
    its handler locks the review, never locks an entry), then reviews."""

    async def begin(self, session: AsyncSession, events: list[Envelope]) -> None:
        ids, clocks = set(), set()
        for event in events:
            if event.type not in HANDLED:
                continue  # an erasure locks its entry itself, and never creates one
            try:
                complaint_id = complaint_of(event)
            except (KeyError, ValueError, TypeError):
                continue  # malformed: its handler fails and the runner parks it
            ids.add(complaint_id)
            if event.type in FINISHING or event.type in REOPENING:
                clocks.add(complaint_id)
        await repo.lock_entries_in_order(session, sorted(ids))
        await repo.lock_pending_timers(
            session, [reviews.review_subject(c) for c in sorted(clocks)], reviews.REPORT_DUE
        )

    async def end(self, session: AsyncSession) -> None:
        return None


def handlers(deps: Deps) -> dict[str, Handler]:
    async def on_event(session: AsyncSession, event: Envelope) -> None:
        complaint_id = complaint_of(event)
        # Lock order (LockOrder took the first two for the whole batch): the entry, the
        # review's timers, then the review.
        entry = await repo.lock_entry(session, complaint_id)
        if event.type in FINISHING or event.type in REOPENING:
            await reviews.lock_clock(session, complaint_id)
        fold(entry, event.type, event.data)
        entry.updated_at = datetime.now(UTC)
        if entry.erased_as is not None:  # in flight when the erasure came: erase it again
            erase(entry, entry.erased_as, entry.updated_at)
        await repo.save_entry(session, entry)
        if event.type in FINISHING:
            await reviews.start_report_clock(session, deps, entry, event.type)
        elif event.type in REOPENING:
            await reviews.stop_report_clock(session, complaint_id)

    return dict.fromkeys(HANDLED, on_event)


def batch_handlers(deps: Deps) -> dict[str, BatchHandler]:
    """The same for a batch (the consumer's batch handler): the complaints whose events
    only fold into their entries are folded in memory and saved with one executemany; a
    complaint with a finishing or reopening event in the batch (report clocks, reviews)
    goes through ``on_event``, its events in order."""
    one_by_one = handlers(deps)[next(iter(HANDLED))]

    async def on_events(session: AsyncSession, events: list[Envelope]) -> None:
        by_complaint: dict[uuid.UUID, list[Envelope]] = {}
        for event in events:
            by_complaint.setdefault(complaint_of(event), []).append(event)
        clocked = {c for c, evs in by_complaint.items()
                   if any(e.type in FINISHING or e.type in REOPENING for e in evs)}  # fmt: skip
        simple = sorted(c for c in by_complaint if c not in clocked)
        # Every entry of the batch first, in id order (as LockOrder does): one lock order.
        await repo.lock_entries_in_order(session, sorted(by_complaint))
        found = await repo.entries_of(session, simple)
        now = datetime.now(UTC)
        for complaint_id in simple:
            entry = found[complaint_id]
            for event in by_complaint[complaint_id]:
                fold(entry, event.type, event.data)
            entry.updated_at = now
            if entry.erased_as is not None:  # in flight when the erasure came: erase it again
                erase(entry, entry.erased_as, now)
        await repo.save_entries(session, [found[c] for c in simple])
        for complaint_id in sorted(clocked):
            for event in by_complaint[complaint_id]:
                await one_by_one(session, event)

    return dict.fromkeys(HANDLED, on_events)
