"""Event handlers: a resolved case or an unhappy survey answer schedules a call-back. Each
runs inside the transaction that records the event in the inbox (a redelivery is a no-op),
and the call-back's ``origin`` is unique (a repeated cause schedules nothing new)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.callbacks import Deps, cancel_open, planned, schedule, schedule_many
from services.followup.domain.policy import remedial_due, resolution_due
from services.followup.store import repository as repo
from shared.events.common import ContactCard, SatisfactionLevel, Tier
from shared.events.envelope import Envelope
from shared.events.followup import CallbackKind
from shared.events.handling import CaseClosed, CaseOutcome, CaseResolved, CaseSuspended
from shared.events.outgoing import new_ids
from shared.events.satisfaction import SurveyRecorded
from shared.events.versions import SurveyRecordedV1, is_v1, read, v1_survey_id

log = logging.getLogger(__name__)

# DOMAIN.md: satisfaction below "neutral" requires remedial action; the issue asks for a
# remedial call at neutral too.
REMEDIAL_AT_OR_BELOW = SatisfactionLevel.NEUTRAL.score


def _resolution_callback(deps: Deps, case: CaseResolved, now: datetime) -> dict[str, Any]:
    """What ``schedule`` is asked for a resolved case."""
    return {
        "origin": f"resolved:{case.complaint_id}:{case.round}",
        "kind": CallbackKind.RESOLUTION,
        "complaint_id": case.complaint_id,
        "customer": case.customer,
        "due_at": resolution_due(case.at, case.customer.tier, case.severity, deps.policy),
        "reason": f"case resolved (round {case.round}): {case.resolution}"[:1000],
        "now": now,
        "severity": case.severity,
        "round": case.round,
        "site": case.site,
        "category": case.category,
        "channel": case.channel,
    }


def batch_handlers(deps: Deps, one_by_one: dict[str, Any]):
    """The consumer's batch handler for resolved cases: the first resolution of each
    complaint in the batch scheduled with ``schedule_many`` (one statement: the call-backs,
    their timers and events, and which complaints had an open call-back, replaced then one
    by one, rarely any); a complaint's further ones (a second round in the same batch) then
    one by one, in order."""

    async def on_cases_resolved(session: AsyncSession, events: list[Envelope]) -> None:
        now = datetime.now(UTC)
        first: dict[uuid.UUID, CaseResolved] = {}
        after: list[Envelope] = []
        for event in events:
            case = CaseResolved.model_validate(event.data)
            if case.complaint_id in first:
                after.append(event)
            else:
                first[case.complaint_id] = case
        plans = [
            planned(deps, **_resolution_callback(deps, case, now), callback_id=callback_id)
            for case, callback_id in zip(first.values(), new_ids(len(first)), strict=True)
        ]
        inserted = await schedule_many(session, deps, plans)
        # One call per complaint: the newest resolution's (rarely any other is open).
        replacing = {values["complaint_id"]: values["id"] for values, _ in plans
                     if inserted.get(values["id"])}  # fmt: skip
        for complaint_id in sorted(replacing):
            reason = f"replaced by the call-back after round {first[complaint_id].round}"
            keep = replacing[complaint_id]
            await cancel_open(session, deps, complaint_id, reason, now, keep=keep)
        for event in after:
            await one_by_one[CaseResolved.event_type](session, event)

    return {CaseResolved.event_type: on_cases_resolved}


def handlers(deps: Deps):
    async def on_case_resolved(session: AsyncSession, event: Envelope) -> None:
        case = CaseResolved.model_validate(event.data)
        now = datetime.now(UTC)
        callback_id = await schedule(
            session, deps, planned(deps, **_resolution_callback(deps, case, now))
        )
        if callback_id is not None:  # one call per complaint: the newest resolution's
            await cancel_open(
                session,
                deps,
                case.complaint_id,
                f"replaced by the call-back after round {case.round}",
                now,
                keep=callback_id,
            )

    async def on_case_ended(session: AsyncSession, event: Envelope) -> None:
        """A case that went to a court or an outside body gets no call-back."""
        if event.type == CaseSuspended.event_type:
            ended = CaseSuspended.model_validate(event.data)
            outcome = ended.reason
        else:
            closed = CaseClosed.model_validate(event.data)
            if closed.outcome == CaseOutcome.RESOLVED:
                return  # closed after our own call-back: nothing open to cancel
            ended, outcome = closed, closed.outcome
        await cancel_open(
            session,
            deps,
            ended.complaint_id,
            f"the case ended: {outcome.value}",
            datetime.now(UTC),
        )

    async def on_survey_recorded(session: AsyncSession, event: Envelope) -> None:
        survey = _answer_of(event)
        if survey.score > REMEDIAL_AT_OR_BELOW:
            return
        earlier = await repo.latest_for_complaint(session, survey.complaint_id)
        if earlier is not None:
            customer = ContactCard.model_validate(earlier["customer"])
        else:
            customer = ContactCard(id=survey.customer_id, tier=survey.tier or Tier.C)
        if survey.tier is not None:
            customer = customer.model_copy(update={"tier": survey.tier})
        factors = ", ".join(survey.factors) or "none given"
        # The remedial call belongs to the cycle the answer measured: its satisfied outcome
        # asks for no second survey of that cycle.
        cycle = survey.cycle or (earlier["round"] if earlier else None)
        await schedule(
            session,
            deps,
            planned(
                deps,
                origin=f"survey:{survey.complaint_id}:{survey.survey_id or event.id}",
                kind=CallbackKind.REMEDIAL,
                complaint_id=survey.complaint_id,
                customer=customer,
                due_at=remedial_due(survey.recorded_at, customer.tier, deps.policy),
                reason=(
                    f"survey answered {survey.level.value} ({survey.score}/6); factors: {factors}"
                ),
                now=datetime.now(UTC),
                round=cycle,
            ),
        )

    return {
        CaseResolved.event_type: on_case_resolved,
        CaseSuspended.event_type: on_case_ended,
        CaseClosed.event_type: on_case_ended,
        SurveyRecorded.event_type: on_survey_recorded,
    }


@dataclass(frozen=True)
class Answer:
    """What a remedial call needs of a survey.recorded, whichever version published it."""

    complaint_id: uuid.UUID
    survey_id: uuid.UUID | None
    cycle: int | None  # unknown for a version-1 answer
    level: SatisfactionLevel
    score: int
    factors: list[str]
    recorded_at: datetime
    customer_id: str | None
    tier: Tier | None


def _answer_of(event: Envelope) -> Answer:
    if is_v1(event.type, event.data):
        old = read(SurveyRecordedV1, event.data)
        # A version-1 answer named its survey by token: name it as every store now does.
        survey_id = v1_survey_id(old.callback_id, old.survey_token)
        cycle = None
    else:
        new = read(SurveyRecorded, event.data)
        old, survey_id, cycle = new, new.survey_id, new.cycle  # type: ignore[assignment]
    return Answer(
        complaint_id=old.complaint_id,
        survey_id=survey_id,
        cycle=cycle,
        level=old.level,
        score=old.score,
        factors=old.factors,
        recorded_at=old.recorded_at,
        customer_id=old.customer_id,
        tier=old.tier,
    )
