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

# Calls about a complaint: an unhappy customer reopens it, and a survey of its resolution
# cycle follows. The others (retention, after a sale or an exchange) end with their outcome.
ABOUT_A_COMPLAINT = frozenset({CallbackKind.RESOLUTION, CallbackKind.REMEDIAL})
# Calls about the customer's activity (DOMAIN.md: after a sale, again after an exchange).
ABOUT_ACTIVITY = frozenset({CallbackKind.AFTER_SALE, CallbackKind.AFTER_EXCHANGE})


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
    """Satisfied: done, and the survey follows. Unhappy: the complaint reopens (a call about
    no complaint, retention or after a sale or an exchange, is done, noted as unhappy: the
    agent takes a new complaint through intake if there is one). Unanswered: try again after
    the policy's spacing; after the last attempt the customer is unreachable and a
    complaint's survey goes anyway."""
    attempts = attempts_before + 1
    complaint = has_complaint and kind in ABOUT_A_COMPLAINT
    if reached:
        if satisfied:
            survey = SurveyReason.SATISFIED if complaint else None
            return Decision(State.COMPLETED, attempts, Outcome.SATISFIED, survey=survey)
        if complaint:
            return Decision(State.REOPENED, attempts, Outcome.NOT_SATISFIED, reopen=True)
        return Decision(State.COMPLETED, attempts, Outcome.NOT_SATISFIED)
    next_due = next_attempt_at(now, attempts, policy)
    if next_due is not None:
        return Decision(State.SCHEDULED, attempts, next_due=next_due)
    survey = SurveyReason.UNREACHABLE if complaint else None
    return Decision(State.UNREACHABLE, attempts, Outcome.UNREACHABLE, survey=survey)
