"""What a call's outcome does to a call-back (DOMAIN.md, Follow-up). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.followup.domain.policy import FollowupPolicy, next_attempt_at
from shared.events.followup import CallbackKind, SurveyReason


class State(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its due time
    DUE = "due"  # time to call
    OVERDUE = "overdue"  # due, and nobody called within the policy's window
    COMPLETED = "completed"  # the customer was reached
    REOPENED = "reopened"  # reached, unhappy: the complaint went back to escalation
    UNREACHABLE = "unreachable"  # every attempt failed
    CANCELLED = "cancelled"  # replaced by a later resolution, or the case ended elsewhere


OPEN_STATES = frozenset({State.SCHEDULED, State.DUE, State.OVERDUE})


class Outcome(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Decision:
    state: State
    attempts: int  # calls made so far, this one included
    outcome: Outcome | None = None  # None while attempts remain
    next_due: datetime | None = None  # the next attempt, when the call went unanswered
    reopen: bool = False  # publish complaint.reopened
    survey: SurveyReason | None = None  # publish survey.requested


def decide(
    kind: CallbackKind,
    has_complaint: bool,
    reached: bool,
    satisfied: bool | None,
    attempts_before: int,
    now: datetime,
    policy: FollowupPolicy,
) -> Decision:
    """Satisfied: done, and the survey follows. Unhappy: the complaint reopens (a retention
    call has none: it is done, noted as unhappy). Unanswered: try again after the policy's
    spacing; after the last attempt the customer is unreachable and the survey goes anyway."""
    attempts = attempts_before + 1
    if reached:
        if satisfied:
            survey = SurveyReason.SATISFIED if has_complaint else None
            return Decision(State.COMPLETED, attempts, Outcome.SATISFIED, survey=survey)
        if has_complaint and kind != CallbackKind.RETENTION:
            return Decision(State.REOPENED, attempts, Outcome.NOT_SATISFIED, reopen=True)
        return Decision(State.COMPLETED, attempts, Outcome.NOT_SATISFIED)
    next_due = next_attempt_at(now, attempts, policy)
    if next_due is not None:
        return Decision(State.SCHEDULED, attempts, next_due=next_due)
    survey = SurveyReason.UNREACHABLE if has_complaint else None
    return Decision(State.UNREACHABLE, attempts, Outcome.UNREACHABLE, survey=survey)
