"""Event handlers: every lifecycle event updates its complaint's ledger entry; a finished
case starts the team's report-back clock, a reopened one stops it. Each runs in the
transaction that records the event in the inbox (a redelivery is a no-op)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import reviews
from services.ledger.deps import Deps
from services.ledger.domain.entry import HANDLED, LedgerEntry, fold
from services.ledger.domain.erasure import erase
from services.ledger.store import repository as repo
from shared import timers
from shared.events.envelope import Envelope
from shared.events.topics import Topics
from shared.messaging.consumer import BatchHandler, Handler

FINISHING = frozenset({"case.resolved", "case.closed", "case.suspended"})
REOPENING = frozenset({"case.reopened", "complaint.reopened"})
CLOCKED = FINISHING | REOPENING


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
    """The same for a batch (the consumer's batch handler), set-based: each complaint's
    events folded in memory, in order, into its entry and, for a finishing or reopening
    event, its review's report clock (``ReportClockState``: the transitions of
    ``reviews.start_report_clock`` / ``stop_report_clock``); then each table written once.
    Lock order as ``on_event``: the entries (id order), the clocks' pending report timers
    (cancelled, id order), the reviews (id order). A report timer armed and cancelled again
    within the batch is never written: only the one left pending is armed."""
    within = deps.settings.review_report_within

    async def on_events(session: AsyncSession, events: list[Envelope]) -> None:
        by_complaint: dict[uuid.UUID, list[Envelope]] = {}
        for event in events:
            by_complaint.setdefault(complaint_of(event), []).append(event)
        ids = sorted(by_complaint)
        clocked = [c for c in ids if any(e.type in CLOCKED for e in by_complaint[c])]
        found = await repo.lock_entries(session, ids)
        await repo.cancel_pending_timers(
            session, [reviews.review_subject(c) for c in clocked], reviews.REPORT_DUE
        )
        clocks = await repo.lock_report_clocks(session, clocked)
        now = datetime.now(UTC)
        for complaint_id in ids:
            entry = found[complaint_id]
            clock = clocks.get(complaint_id)
            for event in by_complaint[complaint_id]:
                fold(entry, event.type, event.data)
                if clock is None:
                    continue
                if event.type in FINISHING:
                    clock.finish(event.type, _finished(entry, event.type), entry.team, within)
                elif event.type in REOPENING:
                    clock.reopen()
            entry.updated_at = now
            if entry.erased_as is not None:  # in flight when the erasure came: erase it again
                erase(entry, entry.erased_as, now)
        await repo.save_entries(session, [found[c] for c in ids])
        await repo.save_report_clocks(session, [c for c in clocks.values() if c.changed], now)
        await timers.arm_many(
            session,
            [
                (reviews.REPORT_DUE, reviews.review_subject(c.complaint_id), c.armed,
                 {"due_at": c.armed.isoformat()})
                for c in clocks.values() if c.armed is not None
            ],
        )  # fmt: skip

    return dict.fromkeys(HANDLED, on_events)


def _finished(entry: LedgerEntry, event_type: str) -> datetime | None:
    """When the case finished, as the entry tells after folding ``event_type``."""
    if event_type == "case.resolved":
        return entry.resolved_at
    return entry.closed_at if event_type == "case.closed" else entry.suspended_at
