"""Satisfaction's use cases. Every change to what is known about a complaint goes through
``update``: lock the complaint's facts, note its contribution to the rollups, change it, and
add the difference, all in the caller's transaction (with the inbox record of the event, or
the outbox event of an answer)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.satisfaction.domain.contribution import (
    Answer,
    Contribution,
    Survey,
    contribution,
    delta,
    merge,
)
from services.satisfaction.domain.facts import FACT_EVENTS, Facts, fold
from services.satisfaction.store import repository as repo
from services.satisfaction.store import rollups
from shared.events.common import SatisfactionLevel, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.messaging import inbox, outbox
from shared.messaging.consumer import Handler

log = logging.getLogger(__name__)
SOURCE = "/complaint-platform/satisfaction"


class NotFound(Exception):
    pass


class AlreadyAnswered(Exception):
    pass


class Expired(Exception):
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


async def change_complaint(
    session: AsyncSession, complaint_id: uuid.UUID, changes: list[Change]
) -> Contribution:
    """Apply ``changes`` (each writes its rows and mirrors them in ``Known``); returns the
    difference between the complaint's contribution to the rollups after and before."""
    facts = await repo.lock_facts(session, complaint_id)
    # Read after the lock: a concurrent writer of this complaint has committed by now.
    known = Known(
        facts,
        await repo.surveys_of(session, complaint_id),
        await repo.answers_of(session, complaint_id),
    )
    before = contribution(known.facts, known.surveys, known.answers)
    unchanged = replace(facts, breached=set(facts.breached))
    for change in changes:
        await change(known)
    if known.facts != unchanged:
        await repo.save_facts(session, known.facts)
    return delta(before, contribution(known.facts, known.surveys, known.answers))


_PENDING = "satisfaction.pending_rollups"  # session.info: increments gathered by a batch


async def update(session: AsyncSession, complaint_id: uuid.UUID, change: Change) -> None:
    found = await change_complaint(session, complaint_id, [change])
    pending = session.info.get(_PENDING)
    if pending is None:
        await rollups.apply(session, found)
    else:
        pending.append(found)


class LockOrder:
    """The consumer's batch hooks: row locks taken in one order by every transaction, so
    two batches (two partitions, two replicas) never deadlock. First the facts rows of every
    complaint in the batch, sorted by id; the handlers then add their rollup increments to
    one sum, written at the end in key order (``rollups.apply`` sorts)."""

    async def begin(self, session: AsyncSession, events: list[Envelope]) -> None:
        ids = set()
        for event in events:
            if event.type in HANDLED:
                try:
                    ids.add(complaint_of(event))
                except (KeyError, ValueError, TypeError):
                    continue  # malformed: its handler fails and the runner parks it
        await repo.lock_facts_in_order(session, sorted(ids))
        session.info[_PENDING] = []

    async def end(self, session: AsyncSession) -> None:
        pending = session.info.pop(_PENDING, [])
        await rollups.apply(session, merge(pending))


def _answered(surveys: list[Survey], token: str) -> list[Survey]:
    return [Survey(s.token, s.requested_at, True) if s.token == token else s for s in surveys]


def complaint_of(event: Envelope) -> uuid.UUID:
    return uuid.UUID(str(event.data["complaint_id"]))


def change_for(session: AsyncSession, event: Envelope, ladder: list[str]) -> Change:
    """What ``event`` changes about its complaint."""
    if event.type == "survey.requested":
        return _requested(session, event)
    if event.type == "survey.recorded":
        return _recorded(session, event)
    if event.type not in FACT_EVENTS:
        raise ValueError(f"no change for {event.type}")

    async def change(known: Known) -> None:
        fold(known.facts, event.type, event.data, ladder)

    return change


HANDLED = frozenset({*FACT_EVENTS, "survey.requested", "survey.recorded"})


def source_topics(topics: Topics) -> list[str]:
    """Everything the store is made of: lifecycle events and this service's own answers; the
    live consumer and the rebuild read the same."""
    return [topics.intake, topics.handling, topics.followup, topics.satisfaction]


def handlers(ladder: list[str]) -> dict[str, Handler]:
    """The consumer handlers, by event type, for the lifecycle and survey events."""

    async def handle(session: AsyncSession, event: Envelope) -> None:
        await update(session, complaint_of(event), change_for(session, event, ladder))

    return dict.fromkeys(HANDLED, handle)


def _requested(session: AsyncSession, event: Envelope) -> Change:
    data = event.data
    customer = data.get("customer") or {}

    async def change(known: Known) -> None:
        token = data["survey_token"]
        requested_at = datetime.fromisoformat(data["requested_at"])
        answered = await repo.upsert_requested_survey(
            session,
            {
                "token": token,
                "complaint_id": known.facts.complaint_id,
                "callback_id": data.get("callback_id"),
                "customer_id": customer.get("id"),
                "tier": customer.get("tier"),
                "requested_at": requested_at,
            },
        )
        others = [s for s in known.surveys if s.token != token]
        known.surveys = [*others, Survey(token, requested_at, answered)]

    return change


def _recorded(session: AsyncSession, event: Envelope) -> Change:
    data = SurveyRecorded.model_validate(event.data)

    async def change(known: Known) -> None:
        inserted = await repo.insert_answer(
            session,
            {
                "answer_id": event.id,
                "complaint_id": data.complaint_id,
                "survey_token": data.survey_token,
                "score": data.score,
                "factors": data.factors,
                "comment": data.comment,
                "taken_by": data.taken_by,
                "customer_id": data.customer_id,
                "tier": data.tier.value if data.tier else None,
                "recorded_at": data.recorded_at,
            },
        )
        if inserted:
            tier = data.tier.value if data.tier else None
            known.answers.append(
                Answer(str(event.id), data.score, tuple(data.factors), data.recorded_at, tier)
            )
        if data.survey_token:
            await repo.mark_survey_answered(
                session, data.survey_token, data.complaint_id, data.recorded_at
            )
            known.surveys = _answered(known.surveys, data.survey_token)

    return change


async def apply_answer(session: AsyncSession, event: Envelope) -> None:
    """A survey.recorded event, from this service's API or read back from the topic."""
    await update(session, complaint_of(event), _recorded(session, event))


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
    valid_for: timedelta | None = None,
) -> SurveyRecorded:
    """Record an answer given with a survey token (the customer, or an agent who names the
    complaint too) or for a complaint (an agent on the phone, who then uses up the
    complaint's open survey, if any). The answer is
    applied to the store and published as survey.recorded in one transaction; its id goes
    into the inbox so reading it back from the topic changes nothing."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        if token is not None:
            peek = await repo.get_survey(session, token)
            if peek is None or peek["requested_at"] is None:
                raise NotFound
            if complaint_id is not None and complaint_id != peek["complaint_id"]:
                raise WrongComplaint
            complaint_id = peek["complaint_id"]
        assert complaint_id is not None
        if token is None and not await repo.complaint_known(session, complaint_id):
            raise NotFound
        await repo.lock_facts(session, complaint_id)  # serialises answers per complaint
        if token is not None:
            survey = await repo.get_survey(session, token)
            assert survey is not None
            if survey["answered_at"] is not None:
                raise AlreadyAnswered
            if valid_for is not None and now > survey["requested_at"] + valid_for:
                raise Expired
        else:
            survey = await repo.open_survey_of(session, complaint_id)
        data = SurveyRecorded(
            complaint_id=complaint_id,
            survey_token=survey["token"] if survey else None,
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
        await apply_answer(session, event)
        await outbox.add(session, topics.satisfaction, [event])
    log.info(
        "survey answer recorded",
        extra={"complaint_id": str(complaint_id), "score": data.score, "by": data.taken_by},
    )
    return data
