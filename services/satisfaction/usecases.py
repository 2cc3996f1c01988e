"""Satisfaction's use cases. Every change to what is known about a complaint goes through
``update``: lock the complaint's facts, note its contribution to the rollups, change it, and
add the difference, all in the caller's transaction (with the inbox record of the event, or
the outbox event of an answer)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.satisfaction.domain.contribution import (
    Answer,
    Contribution,
    Survey,
    contribution,
    delta,
    merge,
)
from services.satisfaction.domain.facts import FACT_EVENTS, Facts, fold, state_of
from services.satisfaction.domain.surveys import (
    AlreadyAnswered,
    SurveyStatus,
    check_answerable,
    cycle_of,
    expires_at,
    status,
)
from services.satisfaction.store import repository as repo
from services.satisfaction.store import rollups, writes
from services.satisfaction.store.tables import ROLLUPS
from shared.events.common import SatisfactionLevel, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.events.versions import (
    SurveyRecordedV1,
    SurveyRequestedV1,
    is_v1,
    read,
    token_sha256,
    v1_survey_id,
)
from shared.messaging import inbox, outbox
from shared.messaging.consumer import BatchHandler, Handler

log = logging.getLogger(__name__)
SOURCE = "/complaint-platform/satisfaction"


class NotFound(Exception):
    pass


class WrongComplaint(Exception):
    """An agent named a survey token of another complaint than the one named."""


@dataclass
class Known:
    """What the store holds about one complaint while a change is applied to it."""

    facts: Facts
    surveys: list[Survey]
    answers: list[Answer]


Change = Callable[[Known], Awaitable[None]]


class Held:
    """The complaints one transaction holds: their facts rows locked (in id order: the lock
    order), their surveys and answers read after the lock, and the changes applied to them in
    memory (survey and answer changes write their own rows and mirror them here). ``write``
    then saves the changed facts and adds the rollup increments, with one statement however
    many changes and complaints there were. Only for one transaction, without savepoints in
    between: a rolled-back change would leave its mirror behind."""

    def __init__(self, roll_up: bool = True) -> None:
        self.roll_up = roll_up
        self.known: dict[uuid.UUID, Known] = {}
        self._saved: dict[uuid.UUID, tuple[Any, ...]] = {}  # the facts as their rows stand
        self._before: dict[uuid.UUID, Contribution] = {}  # contributions before any change

    async def hold(self, session: AsyncSession, complaint_ids: Iterable[uuid.UUID]) -> None:
        ids = sorted(set(complaint_ids) - self.known.keys())
        if not ids:
            return
        found = await repo.lock_facts_many(session, ids)
        # Read after the lock: a concurrent writer of these complaints has committed by now.
        surveys, answers = await repo.surveys_and_answers_of_many(session, ids)
        for facts in found:
            cid = facts.complaint_id
            self.known[cid] = Known(facts, surveys.get(cid, []), answers.get(cid, []))
            self._saved[cid] = state_of(facts)

    async def change(self, session: AsyncSession, changes: dict[uuid.UUID, list[Change]]) -> None:
        await self.hold(session, changes)
        for cid in sorted(changes):
            known = self.known[cid]
            if self.roll_up and cid not in self._before:
                self._before[cid] = contribution(known.facts, known.surveys, known.answers)
            for change in changes[cid]:
                await change(known)

    def differences(self) -> list[Contribution]:
        """Each changed complaint's contribution to the rollups after minus before."""
        return [
            delta(before, contribution(k.facts, k.surveys, k.answers))
            for k, before in ((self.known[cid], b) for cid, b in self._before.items())
        ]

    def _dirty(self) -> list[Facts]:
        """The facts changed since held (or last saved), in id order; noted as saved."""
        states = {cid: state_of(k.facts) for cid, k in self.known.items()}
        dirty = sorted(cid for cid, state in states.items() if state != self._saved[cid])
        self._saved.update((cid, states[cid]) for cid in dirty)
        return [self.known[cid].facts for cid in dirty]

    async def save_facts(self, session: AsyncSession) -> None:
        await repo.save_facts_many(session, self._dirty())

    async def write(self, session: AsyncSession) -> None:
        """The facts saved and the rollups incremented (each complaint's difference summed):
        one statement."""
        found = merge(self.differences())
        self._before.clear()
        await writes.save_and_add(session, self._dirty(), found)


async def change_complaints(
    session: AsyncSession, changes: dict[uuid.UUID, list[Change]], roll_up: bool = True
) -> list[Contribution]:
    """Apply ``changes`` to many complaints with a few statements in all (``Held``): the
    facts saved; returns the differences of their contributions to the rollups, for the
    caller to add (none without ``roll_up``: a rebuild derives the rollups at the end)."""
    held = Held(roll_up)
    await held.change(session, changes)
    await held.save_facts(session)
    return held.differences()


async def change_complaint(
    session: AsyncSession, complaint_id: uuid.UUID, changes: list[Change], roll_up: bool = True
) -> Contribution:
    """``change_complaints`` for one complaint: its contribution's difference."""
    found = await change_complaints(session, {complaint_id: changes}, roll_up)
    return found[0] if found else Contribution.empty()


_HELD = "satisfaction.held"  # session.info: the consumer transaction's Held (LockOrder)


async def apply_changes(session: AsyncSession, changes: dict[uuid.UUID, list[Change]]) -> None:
    """Apply ``changes``: in the consumer's transaction to what it holds, written at its end
    (``LockOrder``); otherwise at once, rollups included."""
    held = session.info.get(_HELD)
    if held is None:
        held = Held()
        await held.change(session, changes)
        await held.write(session)
    else:
        await held.change(session, changes)


async def update(session: AsyncSession, complaint_id: uuid.UUID, change: Change) -> None:
    await apply_changes(session, {complaint_id: [change]})


class LockOrder:
    """The consumer's batch hooks: row locks taken in one order by every transaction, so
    two batches (two partitions, two replicas) never deadlock. First the facts rows of every
    complaint in the batch, sorted by id (and what is known of them read once); the handlers
    change them in memory; at the end the changed facts are saved and the rollup increments
    summed and added in key order (``rollups.increments`` sorts), with one statement."""

    async def begin(self, session: AsyncSession, events: list[Envelope]) -> None:
        ids = set()
        for event in events:
            if event.type in HANDLED:
                try:
                    ids.add(complaint_of(event))
                except (KeyError, ValueError, TypeError):
                    continue  # malformed: its handler fails and the runner parks it
        # A fresh one each time: a redrive runs several in one transaction, and one whose
        # handler failed (rolled back to its savepoint) never reached ``end``.
        held = session.info[_HELD] = Held()
        await held.hold(session, ids)

    async def end(self, session: AsyncSession) -> None:
        held: Held | None = session.info.pop(_HELD, None)
        if held is not None:
            await held.write(session)


def _answered(surveys: list[Survey], survey_id: str) -> list[Survey]:
    return [
        Survey(s.survey_id, s.requested_at, True) if s.survey_id == survey_id else s
        for s in surveys
    ]


def complaint_of(event: Envelope) -> uuid.UUID:
    return uuid.UUID(str(event.data["complaint_id"]))


def change_for(session: AsyncSession, event: Envelope, ladder: list[str]) -> Change:
    """What ``event`` changes about its complaint."""
    if event.type == SurveyRequested.event_type:
        return _requested(session, event)
    if event.type == SurveyInvited.event_type:
        return _invited(session, event)
    if event.type == SurveyRecorded.event_type:
        return _recorded(session, answer_seen(event), event.id)
    if event.type not in FACT_EVENTS:
        raise ValueError(f"no change for {event.type}")

    async def change(known: Known) -> None:
        fold(known.facts, event.type, event.data, ladder)

    return change


SURVEY_EVENTS = frozenset(
    {SurveyRequested.event_type, SurveyInvited.event_type, SurveyRecorded.event_type}
)
HANDLED = FACT_EVENTS | SURVEY_EVENTS


def source_topics(topics: Topics) -> list[str]:
    """Everything the store is made of: lifecycle events, the survey invitations of the
    notification service and this service's own answers; the live consumer and the rebuild
    read the same."""
    return [topics.intake, topics.handling, topics.followup, topics.notify, topics.satisfaction]


def handlers(ladder: list[str]) -> dict[str, Handler]:
    """The consumer handlers, by event type, for the lifecycle and survey events."""

    async def handle(session: AsyncSession, event: Envelope) -> None:
        await update(session, complaint_of(event), change_for(session, event, ladder))

    return dict.fromkeys(HANDLED, handle)


def batch_handlers(ladder: list[str]) -> dict[str, BatchHandler]:
    """The same, for a batch of events (of any of these types, in order per complaint):
    every complaint of the batch changed together, its answers written together."""

    async def handle_many(session: AsyncSession, events: list[Envelope]) -> None:
        answers = await store_answers(session, events)
        changes: dict[uuid.UUID, list[Change]] = {}
        for event in events:
            if answers is not None and event.id in answers[0]:
                change = _recorded(session, answers[0][event.id], event.id, stored=answers[1])
            else:
                change = change_for(session, event, ladder)
            changes.setdefault(complaint_of(event), []).append(change)
        await apply_changes(session, changes)

    return dict.fromkeys(HANDLED, handle_many)


def _requested(session: AsyncSession, event: Envelope) -> Change:
    values: dict[str, object]
    if is_v1(event.type, event.data):
        # Version 1 carried the token: keep its hash only, name the survey by it.
        old = read(SurveyRequestedV1, event.data)
        token_hash = token_sha256(old.survey_token)
        customer, requested_at = old.customer, old.requested_at
        values = {"survey_id": v1_survey_id(old.callback_id, None), "token_sha256": token_hash}
        values |= {"callback_id": old.callback_id, "cycle": None}
    else:
        new = read(SurveyRequested, event.data)
        customer, requested_at = new.customer, new.requested_at
        values = {"survey_id": new.survey_id, "callback_id": new.callback_id, "cycle": new.cycle}

    async def change(known: Known) -> None:
        answered = await repo.upsert_requested_survey(
            session,
            values
            | {
                "complaint_id": known.facts.complaint_id,
                "customer_id": customer.id,
                "tier": customer.tier.value,
                "requested_at": requested_at,
            },
        )
        survey_id = str(values["survey_id"])
        others = [s for s in known.surveys if s.survey_id != survey_id]
        known.surveys = [*others, Survey(survey_id, requested_at, answered)]

    return change


def _invited(session: AsyncSession, event: Envelope) -> Change:
    invited = read(SurveyInvited, event.data)

    async def change(known: Known) -> None:
        # Counts nothing by itself: the request does (the survey is asked for either way).
        await repo.upsert_invited_survey(
            session,
            {
                "survey_id": invited.survey_id,
                "complaint_id": invited.complaint_id,
                "token_sha256": invited.token_sha256.lower(),
                "invited_at": invited.at,
                "expires_at": invited.expires_at,
            },
        )

    return change


@dataclass(frozen=True)
class AnswerSeen:
    """A survey.recorded of either version; ``cycle`` is None for a version-1 answer (the
    store decides it as for an answer taken now)."""

    complaint_id: uuid.UUID
    survey_id: uuid.UUID | None
    cycle: int | None
    score: int
    factors: list[str]
    comment: str | None
    taken_by: str
    recorded_at: datetime
    customer_id: str | None
    tier: str | None


def answer_seen(event: Envelope) -> AnswerSeen:
    if is_v1(event.type, event.data):
        old = read(SurveyRecordedV1, event.data)
        survey_id = v1_survey_id(old.callback_id, old.survey_token)
        data, cycle = old, None
    else:
        new = read(SurveyRecorded, event.data)
        data, survey_id, cycle = new, new.survey_id, new.cycle  # type: ignore[assignment]
    return AnswerSeen(
        complaint_id=data.complaint_id,
        survey_id=survey_id,
        cycle=cycle,
        score=data.score,
        factors=data.factors,
        comment=data.comment,
        taken_by=data.taken_by,
        recorded_at=data.recorded_at,
        customer_id=data.customer_id,
        tier=data.tier.value if data.tier else None,
    )


def _answer_row(data: AnswerSeen, answer_id: uuid.UUID, cycle: int) -> dict[str, object]:
    return {
        "answer_id": answer_id, "complaint_id": data.complaint_id, "survey_id": data.survey_id,
        "cycle": cycle, "score": data.score, "factors": data.factors, "comment": data.comment,
        "taken_by": data.taken_by, "customer_id": data.customer_id, "tier": data.tier,
        "recorded_at": data.recorded_at,
    }  # fmt: skip


def _recorded(
    session: AsyncSession,
    data: AnswerSeen,
    answer_id: uuid.UUID,
    outcome: list[bool] | None = None,
    stored: set[uuid.UUID] | None = None,
) -> Change:
    """Keep the answer unless its complaint's cycle already has one (then it is ignored: a
    second answer of a cycle is never counted, whoever sent it); its survey marked answered.
    ``stored``: written already with the rest of its batch (``store_answers``), these kept."""

    async def change(known: Known) -> None:
        cycle = data.cycle
        if stored is not None:
            inserted = answer_id in stored
        else:
            if cycle is None:
                survey = await repo.get_survey(session, data.survey_id) if data.survey_id else None
                cycle = cycle_of(repo.record_of(survey) if survey else None, known.facts.cycles)
            row = _answer_row(data, answer_id, cycle)
            inserted = answer_id in await repo.insert_answers_many(session, [row])
        if outcome is not None:
            outcome.append(inserted)
        if not inserted:
            log.info(
                "answer not kept: known already, or its cycle has an answer",
                extra={"answer_id": str(answer_id), "complaint_id": str(data.complaint_id),
                       "cycle": cycle},
            )  # fmt: skip
            return
        known.answers.append(
            Answer(str(answer_id), data.score, tuple(data.factors), data.recorded_at, data.tier)
        )
        if data.survey_id is not None:  # marked answered in the store with the insert
            known.surveys = _answered(known.surveys, str(data.survey_id))

    return change


async def store_answers(
    session: AsyncSession, events: list[Envelope]
) -> tuple[dict[uuid.UUID, AnswerSeen], set[uuid.UUID]] | None:
    """The answers among ``events`` (a batch, in order) inserted with one statement and their
    surveys marked with another, ahead of the batch's other changes: the answers (by event
    id) and the ids kept. Only inserts and marks of answers depend on each other (the first
    of a cycle wins; the first answer's time stays on its survey), so doing them first and in
    order leaves the store and the final ``Known`` as doing them in turn would. None (do
    them in turn) outside a consumer transaction holding every complaint named, or when an
    answer lacks its cycle (a version-1 answer's depends on the facts folded before it)."""
    held: Held | None = session.info.get(_HELD)
    if held is None:
        return None
    seen = {e.id: answer_seen(e) for e in events if e.type == SurveyRecorded.event_type}
    if not seen or any(a.cycle is None or a.complaint_id not in held.known for a in seen.values()):
        return None
    rows = [_answer_row(a, answer_id, a.cycle) for answer_id, a in seen.items()]  # type: ignore[arg-type]
    return seen, await repo.insert_answers_many(session, rows)


@dataclass(frozen=True)
class AnswerIn:
    level: SatisfactionLevel
    factors: list[str]
    comment: str | None
    taken_by: str


async def record_answer(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    answer: AnswerIn,
    *,
    token: str | None = None,
    complaint_id: uuid.UUID | None = None,
    valid_for: timedelta,
) -> tuple[uuid.UUID, SurveyRecorded]:
    """Record an answer given with a survey token (the customer, or an agent who names the
    complaint too) or for a complaint (an agent on the phone, who then uses up the
    complaint's open survey, if any). One answer per complaint and resolution cycle: a second
    raises ``AlreadyAnswered`` naming the first. The answer is applied to the store and
    published as survey.recorded in one transaction; its id goes into the inbox so reading
    it back from the topic changes nothing. Returns the answer's id (its event's) and data."""
    now = datetime.now(UTC)
    token_hash = token_sha256(token) if token is not None else None
    async with sessions.begin() as session:
        if token_hash is not None:
            peek = await repo.survey_by_hash(session, token_hash)
            if peek is None:
                raise NotFound
            if complaint_id is not None and complaint_id != peek["complaint_id"]:
                raise WrongComplaint
            complaint_id = peek["complaint_id"]
        assert complaint_id is not None
        if token_hash is None and not await repo.complaint_known(session, complaint_id):
            raise NotFound
        held = Held()
        await held.hold(session, [complaint_id])  # the lock serialises answers per complaint
        facts = held.known[complaint_id].facts
        if token_hash is not None:
            survey = await repo.survey_by_hash(session, token_hash)
            assert survey is not None
        else:
            survey = await repo.open_survey_of(session, complaint_id)
        record = repo.record_of(survey) if survey else None
        cycle = cycle_of(record, facts.cycles)
        first = await repo.first_answer(
            session, complaint_id, cycle, record.survey_id if record else None
        )
        if token_hash is not None and record is not None:
            check_answerable(record, first, now, valid_for)
        elif first is not None:
            raise AlreadyAnswered(first)
        data = SurveyRecorded(
            complaint_id=complaint_id,
            survey_id=record.survey_id if record else None,
            cycle=cycle,
            callback_id=survey["callback_id"] if survey else None,
            level=answer.level,
            score=answer.level.score,
            factors=answer.factors,
            comment=answer.comment,
            taken_by=answer.taken_by,
            recorded_at=now,
            customer_id=survey["customer_id"] if survey else None,
            tier=Tier(survey["tier"]) if survey and survey["tier"] else None,
        )
        event = new_event(SOURCE, str(complaint_id), data, time=now)
        await inbox.claim(session, event, topics.satisfaction)
        kept: list[bool] = []
        await held.change(
            session, {complaint_id: [_recorded(session, answer_seen(event), event.id, kept)]}
        )
        await held.write(session)
        if not all(kept):  # the unique constraint, should anything have slipped past the lock
            raise AlreadyAnswered(await repo.first_answer(session, complaint_id, cycle, None))
        await outbox.add(session, topics.satisfaction, [event])
    log.info(
        "survey answer recorded",
        extra={"complaint_id": str(complaint_id), "score": data.score, "cycle": cycle,
               "by": data.taken_by},
    )  # fmt: skip
    return event.id, data


@dataclass(frozen=True)
class SurveyView:
    """What the survey page may show about a survey: no personal data."""

    status: SurveyStatus
    cycle: int | None
    expires_at: datetime | None
    answered_at: datetime | None


async def survey_status(
    sessions: async_sessionmaker[AsyncSession], token: str, valid_for: timedelta
) -> SurveyView:
    async with sessions() as session:
        survey = await repo.survey_by_hash(session, token_sha256(token))
        if survey is None:
            raise NotFound
        record = repo.record_of(survey)
        first = await repo.first_answer(
            session, record.complaint_id, record.cycle, record.survey_id
        )
    found = status(record, first, datetime.now(UTC), valid_for)
    answered_at = record.answered_at or (first.recorded_at if first else None)
    return SurveyView(found, record.cycle, expires_at(record, valid_for), answered_at)


async def rederive_rollups(session: AsyncSession, batch: int = 500) -> int:
    """Empty the rollups and sum every complaint's contribution again from the store (facts,
    surveys, answers). Writers of the store wait meanwhile (a share lock), so no increment
    made during it is lost or doubled. Returns how many complaints were summed."""
    await session.execute(sa.text("LOCK TABLE facts, surveys, answers IN SHARE MODE"))
    await session.execute(sa.text(f"TRUNCATE {', '.join(t.name for t in ROLLUPS)}"))
    ids = await repo.complaint_ids(session)
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        found = {f.complaint_id: f for f in await repo.facts_of_many(session, chunk)}
        surveys, answers = await repo.surveys_and_answers_of_many(session, chunk)
        parts = [
            contribution(found.get(c) or Facts(c), surveys.get(c, []), answers.get(c, []))
            for c in chunk
        ]
        await rollups.apply(session, merge(parts))
    return len(ids)
