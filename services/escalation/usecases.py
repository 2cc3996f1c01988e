"""Escalation's use cases: each one transaction in which the case changes, its timeline, its
timers and the events it causes are written together (the relay publishes after commit).

The case row is locked (``FOR UPDATE``) for every change, so the API, the consumers and the
timer scheduler (several replicas) change one case one at a time. Before any change the case
catches up with time (``tick``): what is due has happened, even if its timer is late."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter as Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.escalation.domain.assignment import Actor, Remembered, Router
from services.escalation.domain.case import Case, Forbidden
from services.escalation.domain.policy import Policy
from services.escalation.store import opening, saving, wake
from services.escalation.store import repository as repo
from shared.directory import Directory
from shared.events.common import ContactCard, EventData
from shared.events.envelope import Envelope
from shared.events.followup import ComplaintReopened, FollowupCompleted, FollowupUnreachable
from shared.events.intake import ComplaintCompleted, ComplaintReceived, Customer, SubjectKind
from shared.events.outgoing import Outgoing, cloudevent, new_ids
from shared.events.topics import Topics
from shared.timers import Timer

log = logging.getLogger(__name__)
SOURCE = "/complaint-platform/escalation"
TIMER_KINDS = wake.TIMER_KINDS  # a case's one wake-up, and the kinds armed before it
CHANGES = Metric("escalation_case_events_total", "Case events recorded", ["type"])
# Cases per statement when a batch opens many: small enough that one statement's parameters
# go out at once, large enough that a statement's fixed costs stay small.
OPEN_CHUNK = 64


class NotFound(Exception):
    pass


def contact_card(customer: Customer) -> ContactCard:
    return ContactCard(
        id=customer.id,
        name=customer.name,
        phone=customer.phone,
        email=customer.email,
        tier=customer.tier,
    )


def site_of(data: ComplaintReceived) -> str | None:
    """The store / site / project the complaint is about, for routing: the reference of a
    complaint whose subject is a site (``complaint.received`` has no site field of its own;
    should it gain one, that comes first)."""
    # vars(), not getattr(): a pydantic model's missing attribute costs an exception.
    named = vars(data).get("site")
    if isinstance(named, str) and named:
        return named
    if data.subject is not None and data.subject.kind == SubjectKind.SITE:
        return data.subject.reference
    return None


def outgoing(steps: list[repo.Entry], now: datetime) -> list[Outgoing]:
    """The events' CloudEvents for the outbox, from the data their timeline rows have too."""
    ids = new_ids(len(steps))
    return [
        cloudevent(SOURCE, s.subject, s.event, now, event_id, data=s.data)
        for s, event_id in zip(steps, ids, strict=True)
    ]


def name_actor(events: list[EventData], actor: Actor | None) -> None:
    """Give the acting person's display name to the events they caused (``by_name``)."""
    if actor is None or actor.name is None:
        return
    for event in events:
        named = "by_name" in type(event).model_fields and event.by_name is None  # type: ignore[attr-defined]
        if named and getattr(event, "by", None) == actor.id:
            event.by_name = actor.name  # type: ignore[attr-defined]


Action = Callable[[Case, datetime], list[EventData]]


@dataclass
class Escalation:
    """The use cases, bound to the policy and topics; its methods are the consumer and timer
    handlers."""

    sessions: async_sessionmaker[AsyncSession]
    topics: Topics
    policy: Policy
    # The staff directory; without one (tests, benchmarks) cases are owned by no team.
    router: Router = field(default_factory=Directory)
    open_chunk: int = OPEN_CHUNK  # cases opened per statement

    def __post_init__(self) -> None:
        if not isinstance(self.router, Remembered):
            self.router = Remembered(self.router)

    async def _record(
        self,
        session: AsyncSession,
        case: Case,
        events: list[EventData],
        now: datetime,
        *,
        firing: int | None = None,
        actor: Actor | None = None,
    ) -> None:
        """Save the case with what it caused: its new owner after a climb, timeline,
        outcomes, timers, outbox."""
        events = case.assign_along(self.router, events)
        name_actor(events, actor)
        steps = repo.entries(case.complaint_id, events)
        await saving.save_case(
            session, case, now, steps, firing, self.topics.handling,
            outgoing(steps, now),
        )  # fmt: skip
        case.outcomes.clear()
        for event in events:
            CHANGES.labels(event.event_type).inc()

    # ---- consumers ---------------------------------------------------------------------------

    async def on_received(self, session: AsyncSession, event: Envelope) -> None:
        for case, events in await self._open(session, [event]):
            log.info(
                "case opened" if events else "case waiting for contact data",
                # "rung", not "level": that key is the log record's own severity.
                extra={"complaint_id": str(case.complaint_id), "rung": case.level},
            )

    async def on_received_many(self, session: AsyncSession, batch: list[Envelope]) -> None:
        """``on_received`` for a batch (the consumer's batch handler)."""
        opened = await self._open(session, batch)
        log.info("cases opened", extra={"cases": len(opened), "events": len(batch)})

    async def _open(
        self, session: AsyncSession, batch: list[Envelope]
    ) -> list[tuple[Case, list[EventData]]]:
        """Open a case for each received complaint that has none: the cases, their
        timelines, timers (one each) and events written with one statement per chunk of
        ``open_chunk``, the next chunk prepared while PostgreSQL writes the last (the two
        take turns otherwise). A complaint whose case exists already (a second delivery)
        changes nothing."""
        now = datetime.now(UTC)
        found: dict[uuid.UUID, ComplaintReceived] = {}
        for event in batch:
            data = ComplaintReceived.model_validate(event.data)
            found.setdefault(data.complaint_id, data)  # a second delivery: the case exists
        received = list(found.values())
        prepared: list[tuple[Case, list[EventData]]] = []
        inserted: set[uuid.UUID] = set()
        writing: asyncio.Future[set[uuid.UUID]] | None = None
        try:
            for start in range(0, len(received), self.open_chunk):
                upto = start + self.open_chunk
                chunk, params = await self._prepare(received[start:upto], now)
                prepared += chunk
                if writing is not None:
                    inserted |= await writing
                writing = asyncio.ensure_future(opening.write(session, params))
                await asyncio.sleep(0)  # it sends the statement: the next chunk overlaps it
            if writing is not None:
                inserted |= await writing
                writing = None
        finally:
            if writing is not None:  # failing: the statement in flight ends before the rollback
                with contextlib.suppress(Exception):
                    await writing
        opened = [(case, events) for case, events in prepared if case.complaint_id in inserted]
        # Clocks decided already at opening (complaints received long ago): rare.
        await repo.add_outcomes_of(session, [(c.complaint_id, c.outcomes) for c, _ in opened])
        for case, _ in opened:
            case.outcomes.clear()
        types = Counter(e.event_type for _, events in opened for e in events)
        for event_type, n in types.items():
            CHANGES.labels(event_type).inc(n)
        return opened

    async def _prepare(
        self, received: list[ComplaintReceived], now: datetime
    ) -> tuple[list[tuple[Case, list[EventData]]], list[Any]]:
        """The cases of ``received`` with their events, and the statement's arguments."""
        found: list[tuple[Case, list[EventData]]] = []
        steps: list[repo.Entry] = []
        for i, data in enumerate(received):
            if i % 32 == 31:  # the loop sends the statement in flight and takes its answer
                await asyncio.sleep(0)
            case, events = self._opened(data, now)
            events[:] = case.assign_along(self.router, events)
            steps += repo.entries(case.complaint_id, events)
            found.append((case, events))
        params = opening.rows(now, [c for c, _ in found], steps, self.topics.handling, SOURCE)
        return found, params

    def _opened(self, data: ComplaintReceived, now: datetime) -> tuple[Case, list[EventData]]:
        case, events = Case.receive(
            self.policy,
            data.complaint_id,
            mode=data.mode,
            severity=data.severity,
            channel=data.channel,
            category=data.category,
            customer=contact_card(data.customer),
            received_at=data.received_at,
            information_complete=data.information_complete,
            site=site_of(data),
        )
        events += case.tick(self.policy, now)
        return case, events

    async def on_completed(self, session: AsyncSession, event: Envelope) -> None:
        data = ComplaintCompleted.model_validate(event.data)
        case = await repo.get_case(session, data.complaint_id, lock=True)
        if case is None:
            log.warning("completion of an unknown complaint",
                        extra={"complaint_id": str(data.complaint_id)})  # fmt: skip
            return
        now = datetime.now(UTC)
        case.customer = contact_card(data.customer)
        case.tier = data.customer.tier
        try:
            events = case.start(self.policy, data.completed_at)
        except Forbidden as exc:
            log.info("completion ignored", extra={"complaint_id": str(case.complaint_id),
                                                  "reason": str(exc)})  # fmt: skip
            return
        events += case.tick(self.policy, now)
        await self._record(session, case, events, now)

    async def on_reopened(self, session: AsyncSession, event: Envelope) -> None:
        data = ComplaintReopened.model_validate(event.data)
        reason = data.customer_words or "the customer is still unhappy after the call-back"
        await self._from_followup(
            session, data.complaint_id, lambda c, now: c.reopen(self.policy, now, reason)
        )

    async def on_followup_done(self, session: AsyncSession, event: Envelope) -> None:
        model = (
            FollowupCompleted if event.type == FollowupCompleted.event_type else FollowupUnreachable
        )
        data = model.model_validate(event.data)
        if data.complaint_id is None:
            return  # a retention call-back: no case
        note = (
            "the customer was satisfied at the call-back"
            if isinstance(data, FollowupCompleted)
            else f"the customer could not be reached ({data.attempts} attempts)"
        )
        by = data.by if isinstance(data, FollowupCompleted) else "followup"
        await self._from_followup(
            session, data.complaint_id, lambda c, now: c.confirm_resolved(now, by, note)
        )

    async def _from_followup(
        self, session: AsyncSession, complaint_id: uuid.UUID, action: Action
    ) -> None:
        case = await repo.get_case(session, complaint_id, lock=True)
        if case is None:
            log.warning("follow-up event for an unknown case",
                        extra={"complaint_id": str(complaint_id)})  # fmt: skip
            return
        now = datetime.now(UTC)
        events = case.tick(self.policy, now)
        try:
            events += action(case, now)
        except Forbidden as exc:
            log.info("follow-up event ignored",
                     extra={"complaint_id": str(complaint_id), "reason": str(exc)})  # fmt: skip
            if not events:
                return
        events += case.tick(self.policy, now)
        await self._record(session, case, events, now)

    # ---- timers --------------------------------------------------------------------------------

    async def on_timer(self, session: AsyncSession, timer: Timer) -> None:
        case = await repo.get_case(session, uuid.UUID(timer.subject), lock=True)
        if case is None:
            return
        # The database decided the timer is due; never let this host's clock say otherwise.
        now = max(datetime.now(UTC), timer.due_at)
        events = case.tick(self.policy, now)
        await self._record(session, case, events, now, firing=timer.id)

    # ---- the ops API ---------------------------------------------------------------------------

    async def act(
        self, complaint_id: uuid.UUID, action: Action, actor: Actor | None = None
    ) -> Case:
        """Apply an operator's action; ``Forbidden`` (nothing written) when the state forbids
        it. ``actor``: the person acting (their name goes into the events)."""
        async with self.sessions.begin() as session:
            case = await repo.get_case(session, complaint_id, lock=True)
            if case is None:
                raise NotFound
            now = datetime.now(UTC)
            events = case.tick(self.policy, now)
            events += action(case, now)
            events += case.tick(self.policy, now)
            await self._record(session, case, events, now, actor=actor)
        return case
