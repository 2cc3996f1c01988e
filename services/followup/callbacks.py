"""Call-backs as durable timers. Every function takes the caller's session: the call-back's
state, its timers (shared.timers) and its outbox events commit together or not at all.

Timers of a call-back have the call-back id as subject: ``callback.due`` moves it into the
work queue, ``callback.overdue`` flags it when nobody called in time. Whenever the due time
changes (a failed attempt, a reschedule) the pending ones are cancelled and new ones armed.
Lock order, everywhere: the call-back's timers first, then its row. The timer scheduler
holds a timer's row while its handler locks the call-back, so doing it the other way round
in a request could deadlock with it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.domain.assignment import Taker, take_problem
from services.followup.domain.outcomes import OPEN_STATES, Decision, State, decide
from services.followup.domain.policy import FollowupPolicy, overdue_at
from services.followup.domain.tiers import RANK, queue_tier
from services.followup.store import repository as repo
from shared import timers
from shared.directory import FOLLOWUP_RUNG, Directory
from shared.events.common import ContactCard, EventData, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import (
    CallbackKind,
    CallOutcome,
    ComplaintReopened,
    FollowupAttemptFailed,
    FollowupCancelled,
    FollowupCompleted,
    FollowupDue,
    FollowupOverdue,
    FollowupRescheduled,
    FollowupScheduled,
    FollowupUnreachable,
    SurveyReason,
    SurveyRequested,
    TierChange,
)
from shared.events.outgoing import Outgoing, cloudevent, new_ids
from shared.events.topics import Topics
from shared.messaging import outbox
from shared.timers import Timer

log = logging.getLogger(__name__)

SOURCE = "/complaint-platform/followup"
DUE = "callback.due"
OVERDUE = "callback.overdue"
CALLBACK_TIMERS = [DUE, OVERDUE]


@dataclass(frozen=True)
class Deps:
    topics: Topics
    policy: FollowupPolicy
    # The staff directory: the team whose queue a call-back goes to (rung ``followup``).
    directory: Directory = field(default_factory=Directory)
    # The directory's answers by (site, category, channel, severity): a batch of resolved
    # cases asks the same few questions hundreds of times.
    _teams: dict[tuple[Any, ...], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def team_for(
        self,
        site: str | None,
        category: str | None,
        channel: str | None,
        severity: Severity | None,
    ) -> str | None:
        """The id of the team whose queue a call-back goes to; None when none serves it."""
        key = (site, category, channel, severity)
        if key not in self._teams:
            if len(self._teams) >= 4096:
                self._teams.clear()  # many distinct sites: the cache starts over
            team = self.directory.route(FOLLOWUP_RUNG, site, category, channel, severity)
            self._teams[key] = team.id if team else None
        return self._teams[key]


class NotFound(Exception):
    pass


class Closed(Exception):
    """The call-back already has its final outcome."""


def queue_rank(tier: Tier) -> int:
    """VIP first, D last (the inverse of the tier's value rank)."""
    return max(RANK.values()) - RANK[tier]


def key_of(callback: dict[str, Any]) -> str:
    """The Kafka key: the complaint id, or the customer id for a call-back with none."""
    if callback["complaint_id"] is not None:
        return str(callback["complaint_id"])
    return str(callback["customer_id"] or callback["id"])


async def publish(
    session: AsyncSession, deps: Deps, callback: dict[str, Any], *data: EventData
) -> None:
    events: list[Envelope] = [
        new_event(SOURCE, key_of(callback), item, time=datetime_of(item)) for item in data
    ]
    await outbox.add(session, deps.topics.followup, events)


def datetime_of(item: EventData) -> datetime | None:
    """The moment the event tells of, when it names one; else the time of writing."""
    for name in ("at", "requested_at"):
        value = getattr(item, name, None)
        if isinstance(value, datetime):
            return value
    return None


async def arm(session: AsyncSession, callback_id: uuid.UUID, due: datetime, late: datetime) -> None:
    payload = {"due_at": due.isoformat()}
    await timers.arm(session, DUE, str(callback_id), due, payload)
    await timers.arm(session, OVERDUE, str(callback_id), late, payload)


# A call-back ready to write: its row and its ``followup.scheduled``.
Plan = tuple[dict[str, Any], FollowupScheduled]


def planned(
    deps: Deps,
    *,
    origin: str,
    kind: CallbackKind,
    complaint_id: uuid.UUID | None,
    customer: ContactCard,
    due_at: datetime,
    reason: str,
    now: datetime,
    severity: Severity | None = None,
    round: int | None = None,
    tier_change: TierChange | None = None,
    site: str | None = None,
    category: str | None = None,
    channel: str | None = None,
    tier_before: Tier | None = None,
    details: dict[str, Any] | None = None,
    callback_id: uuid.UUID | None = None,
) -> Plan:
    """The row of a new call-back, in the queue of the team the staff directory routes it
    to, and its ``followup.scheduled`` (nothing written yet). ``tier_before``: the tier
    before a drop; the queue sorts by the higher of it and the customer's tier now.
    ``callback_id``: a new random id when not given (a batch draws its ids together)."""
    callback_id = callback_id or uuid.uuid4()
    late = overdue_at(due_at, deps.policy)
    values: dict[str, Any] = {
        "id": callback_id,
        "kind": kind.value,
        "origin": origin,
        "complaint_id": complaint_id,
        "customer_id": customer.id,
        "customer": customer.model_dump(mode="json"),
        "tier": customer.tier.value,
        "tier_before": tier_before.value if tier_before else None,
        "tier_rank": queue_rank(queue_tier(customer.tier, tier_before)),
        "severity": severity.value if severity else None,
        "round": round,
        "reason": reason,
        "details": details_of(details, tier_change),
        "state": State.SCHEDULED.value,
        "due_at": due_at,
        "overdue_at": late,
        "attempts": 0,
        "max_attempts": deps.policy.attempts.max,
        "policy_version": deps.policy.version,
        "created_at": now,
        "updated_at": now,
        "team": deps.team_for(site, category, channel, severity),
    }
    event = FollowupScheduled(
        callback_id=callback_id,
        complaint_id=complaint_id,
        kind=kind,
        # The id and tier: no consumer contacts the customer from this event (agents
        # read the contact data from this service's API).
        customer=ContactCard(id=customer.id, tier=customer.tier),
        due_at=due_at,
        overdue_at=late,
        reason=reason,
        round=round,
        tier_change=tier_change,
    )
    return values, event


async def schedule(session: AsyncSession, deps: Deps, plan: Plan) -> uuid.UUID | None:
    """Write a ``planned`` call-back with its timers and ``followup.scheduled``; None when
    its origin was already scheduled (a redelivered or repeated cause), or when the customer
    already has an open call of this kind about their activity (the caller joins that one)."""
    values, event = plan
    callback_id, due_at, late = values["id"], values["due_at"], values["overdue_at"]
    if not await repo.insert_callback(session, values):
        log.info(
            "call-back already scheduled for this cause, or an open one of its kind",
            extra={"kind": values["kind"]},
        )
        return None
    await arm(session, callback_id, due_at, late)
    await publish(session, deps, values, event)
    log.info(
        "call-back scheduled",
        extra={
            "callback_id": str(callback_id),
            "kind": values["kind"],
            "due_at": due_at.isoformat(),
        },
    )
    return callback_id


def details_of(details: dict[str, Any] | None, change: TierChange | None) -> dict[str, Any] | None:
    found = dict(details or {})
    if change is not None:
        found["tier_change"] = change.model_dump(mode="json")
    return found or None


async def schedule_many(
    session: AsyncSession, deps: Deps, plans: list[Plan]
) -> dict[uuid.UUID, bool]:
    """``schedule`` for many call-backs (of different causes and complaints) in one
    statement: the rows, their timers, their events. Returns the ids inserted (a cause seen
    before inserts nothing), each with whether its complaint had an open call-back before
    (the caller replaces it)."""
    now = datetime.now(UTC)
    wakeups: list[repo.Wakeup] = []
    events: list[tuple[uuid.UUID, Outgoing]] = []
    for (values, event), event_id in zip(plans, new_ids(len(plans)), strict=True):
        subject = values["id"]  # orjson writes it as str() does
        payload = {"due_at": values["due_at"].isoformat()}
        wakeups += [(DUE, subject, values["due_at"], payload),
                    (OVERDUE, subject, values["overdue_at"], payload)]  # fmt: skip
        events.append((values["id"], cloudevent(SOURCE, key_of(values), event, now, event_id)))
    inserted = await repo.schedule_callbacks(
        session, [values for values, _ in plans], wakeups, deps.topics.followup, events
    )
    log.info("call-backs scheduled", extra={"callbacks": len(inserted), "causes": len(plans)})
    return inserted


# ---- timers -------------------------------------------------------------------------------


async def _current(session: AsyncSession, timer: Timer) -> dict[str, Any] | None:
    """The call-back a timer belongs to, if the timer still matches its due time."""
    callback = await repo.get_callback(session, uuid.UUID(timer.subject), lock=True)
    if callback is None or State(callback["state"]) not in OPEN_STATES:
        return None
    if callback["due_at"] != datetime.fromisoformat(timer.payload["due_at"]):
        return None  # a due time since changed; its own timers are armed
    return callback


def timer_handlers(deps: Deps):
    async def on_due(session: AsyncSession, timer: Timer) -> None:
        callback = await _current(session, timer)
        if callback is None or callback["state"] != State.SCHEDULED:
            return
        await repo.update_callback(
            session, callback["id"], {"state": State.DUE.value, "updated_at": datetime.now(UTC)}
        )
        await publish(
            session,
            deps,
            callback,
            due_event(callback),
        )

    async def on_overdue(session: AsyncSession, timer: Timer) -> None:
        callback = await _current(session, timer)
        if callback is None or callback["state"] == State.OVERDUE:
            return
        now = datetime.now(UTC)
        changes = {"state": State.OVERDUE.value, "updated_at": now}
        if callback["went_overdue_at"] is None:
            changes["went_overdue_at"] = now
        await repo.update_callback(session, callback["id"], changes)
        await publish(
            session,
            deps,
            callback,
            FollowupOverdue(
                callback_id=callback["id"],
                complaint_id=callback["complaint_id"],
                due_at=callback["due_at"],
                overdue_at=callback["overdue_at"],
            ),
        )
        log.warning("call-back overdue", extra={"callback_id": str(callback["id"])})

    return {DUE: on_due, OVERDUE: on_overdue}


def due_event(callback: dict[str, Any]) -> FollowupDue:
    """``followup.due`` of a call-back row that has just fallen due."""
    return FollowupDue(
        callback_id=callback["id"],
        complaint_id=callback["complaint_id"],
        kind=callback["kind"],
        due_at=callback["due_at"],
        overdue_at=callback["overdue_at"],
        attempt=callback["attempts"] + 1,
        team=callback["team"],
        assignee=callback["assignee"],
    )


def timer_batch_handlers(deps: Deps):
    """``on_due`` for many call-backs falling due together (a morning's queue): locked in
    one statement (in id order), moved to due in one, their followup.due in one outbox
    insert."""

    async def on_due_many(session: AsyncSession, due: list[Timer]) -> None:
        found = await repo.get_callbacks(session, sorted({uuid.UUID(t.subject) for t in due}))
        now = datetime.now(UTC)
        moved: list[dict[str, Any]] = []
        for timer in due:
            callback = found.get(uuid.UUID(timer.subject))
            if callback is None or callback["state"] != State.SCHEDULED:
                continue  # not open, or due already (by an earlier timer of this batch)
            if callback["due_at"] != datetime.fromisoformat(timer.payload["due_at"]):
                continue  # a due time since changed; its own timers are armed
            callback["state"] = State.DUE.value
            moved.append(callback)
        await repo.set_state_many(session, [c["id"] for c in moved], State.DUE.value, now)
        events = [
            new_event(
                SOURCE,
                key_of(c),
                due_event(c),
            )
            for c in moved
        ]
        await outbox.add(session, deps.topics.followup, events)

    return {DUE: on_due_many}


# ---- what agents do -----------------------------------------------------------------------


async def take(
    session: AsyncSession, callback_id: uuid.UUID, who: Taker, now: datetime
) -> dict[str, Any]:
    """``who`` takes the call-back on (no timer changes: its row only)."""
    callback = await repo.get_callback(session, callback_id, lock=True)
    if callback is None:
        raise NotFound
    problem = take_problem(State(callback["state"]), callback["assignee"], who)
    if problem is not None:
        raise Closed(problem)
    changes = {"assignee": who.id, "assignee_name": who.name, "taken_at": now, "updated_at": now}
    await repo.update_callback(session, callback_id, changes)
    log.info("call-back taken", extra={"callback_id": str(callback_id), "by": who.id})
    return callback | changes


async def _open_for_change(session: AsyncSession, callback_id: uuid.UUID) -> dict[str, Any]:
    await timers.cancel(session, str(callback_id), CALLBACK_TIMERS)  # timers first: lock order
    callback = await repo.get_callback(session, callback_id, lock=True)
    if callback is None:
        raise NotFound
    if State(callback["state"]) not in OPEN_STATES:
        raise Closed(f"the call-back is {callback['state']}")
    return callback


async def record_outcome(
    session: AsyncSession,
    deps: Deps,
    callback_id: uuid.UUID,
    *,
    reached: bool,
    satisfied: bool | None,
    customer_words: str | None,
    note: str | None,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    callback = await _open_for_change(session, callback_id)
    kind = CallbackKind(callback["kind"])
    decision = decide(
        kind,
        callback["complaint_id"] is not None,
        reached,
        satisfied,
        callback["attempts"],
        now,
        deps.policy,
    )
    await repo.add_attempt(
        session,
        {
            "callback_id": callback_id,
            "attempt": decision.attempts,
            "at": now,
            "by": by,
            "reached": reached,
            "satisfied": satisfied if reached else None,
            "customer_words": customer_words,
            "note": note,
        },
    )
    changes: dict[str, Any] = {
        "state": decision.state.value,
        "attempts": decision.attempts,
        "updated_at": now,
    }
    if decision.next_due is not None:
        changes["due_at"] = decision.next_due
        changes["overdue_at"] = overdue_at(decision.next_due, deps.policy)
        await arm(session, callback_id, changes["due_at"], changes["overdue_at"])
    if decision.outcome is not None:
        changes |= {
            "outcome": decision.outcome.value,
            "customer_words": customer_words,
            "closed_by": by,
            "closed_at": now,
        }
    await repo.update_callback(session, callback_id, changes)
    callback |= changes
    await publish(session, deps, callback, *_events(callback, decision, by, customer_words, now))
    if decision.survey is not None:
        await _request_survey(session, deps, callback, decision.survey, now)
    log.info(
        "call-back outcome",
        extra={"callback_id": str(callback_id), "state": decision.state.value,
               "attempt": decision.attempts},
    )  # fmt: skip
    return callback


def _events(
    callback: dict[str, Any], decision: Decision, by: str, words: str | None, now: datetime
) -> list[EventData]:
    ids = {"callback_id": callback["id"], "complaint_id": callback["complaint_id"]}
    if decision.reopen:
        return [
            ComplaintReopened(
                complaint_id=callback["complaint_id"],
                callback_id=callback["id"],
                at=now,
                by=by,
                customer_words=words,
                round=callback["round"],
            )
        ]
    if decision.state == State.COMPLETED:
        return [
            FollowupCompleted(
                **ids,
                **figures_of(callback),
                at=now,
                by=by,
                customer_words=words,
                satisfied=decision.outcome == "satisfied",
                outcome=CallOutcome(decision.outcome),
                attempts=decision.attempts,
            )
        ]
    if decision.state == State.UNREACHABLE:
        return [
            FollowupUnreachable(
                **ids,
                **figures_of(callback),
                at=now,
                attempts=decision.attempts,
                outcome=CallOutcome.UNREACHABLE,
            )
        ]
    assert decision.next_due is not None
    return [
        FollowupAttemptFailed(
            **ids,
            attempt=decision.attempts,
            next_attempt_at=decision.next_due,
            max_attempts=callback["max_attempts"],
            by=by,
        )
    ]


def figures_of(callback: dict[str, Any]) -> dict[str, Any]:
    """What the reports need of a closed call-back (satisfaction reports retention calls from
    it): its kind, the customer's id and tiers, the tier change, whether it went overdue."""
    change = (callback["details"] or {}).get("tier_change")
    return {
        "kind": callback["kind"],
        "customer_id": callback["customer_id"],
        "tier": callback["tier"],
        "tier_before": callback.get("tier_before"),
        "tier_change": TierChange.model_validate(change) if change else None,
        "went_overdue": callback["went_overdue_at"] is not None,
    }


async def _request_survey(
    session: AsyncSession,
    deps: Deps,
    callback: dict[str, Any],
    reason: SurveyReason,
    now: datetime,
) -> None:
    """``survey.requested`` for the resolution cycle the call-back followed, unless that cycle
    already has its survey (a remedial call-back after an answer): satisfaction is measured
    once per cycle. No token here: the notification service makes it and sends the link."""
    survey_id = uuid.uuid4()
    cycle = callback["round"] or 1
    if not await repo.add_survey_request(
        session,
        {
            "survey_id": survey_id,
            "callback_id": callback["id"],
            "complaint_id": callback["complaint_id"],
            "cycle": cycle,
            "reason": reason.value,
            "requested_at": now,
        },
    ):
        log.info(
            "no survey: this resolution cycle already has one",
            extra={"callback_id": str(callback["id"]), "cycle": cycle},
        )
        return
    await publish(
        session,
        deps,
        callback,
        SurveyRequested(
            survey_id=survey_id,
            complaint_id=callback["complaint_id"],
            callback_id=callback["id"],
            cycle=cycle,
            customer=ContactCard.model_validate(callback["customer"]),
            requested_at=now,
            reason=reason,
        ),
    )


async def cancel_open(
    session: AsyncSession,
    deps: Deps,
    complaint_id: uuid.UUID,
    reason: str,
    now: datetime,
    keep: uuid.UUID | None = None,
) -> int:
    """Cancel the complaint's open call-backs (but ``keep``); returns how many."""
    cancelled = 0
    for callback_id in await repo.open_for_complaint(session, complaint_id):
        if callback_id == keep:
            continue
        try:
            callback = await _open_for_change(session, callback_id)
        except (NotFound, Closed):
            continue
        changes = {"state": State.CANCELLED.value, "closed_at": now, "updated_at": now}
        await repo.update_callback(session, callback_id, changes)
        await publish(
            session,
            deps,
            callback,
            FollowupCancelled(
                callback_id=callback_id, complaint_id=complaint_id, at=now, reason=reason
            ),
        )
        cancelled += 1
    return cancelled


async def reschedule(
    session: AsyncSession,
    deps: Deps,
    callback_id: uuid.UUID,
    *,
    due_at: datetime,
    reason: str | None,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """The customer asked for another time: not an attempt, the count stays."""
    callback = await _open_for_change(session, callback_id)
    late = overdue_at(due_at, deps.policy)
    changes = {
        "state": State.SCHEDULED.value,
        "due_at": due_at,
        "overdue_at": late,
        "updated_at": now,
    }
    await repo.update_callback(session, callback_id, changes)
    await arm(session, callback_id, due_at, late)
    callback |= changes
    await publish(
        session,
        deps,
        callback,
        FollowupRescheduled(
            callback_id=callback_id,
            complaint_id=callback["complaint_id"],
            due_at=due_at,
            overdue_at=late,
            by=by,
            reason=reason,
        ),
    )
    return callback
