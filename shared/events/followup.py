"""Events the follow-up service publishes on ``complaints.followup.v1``.

Key: the complaint id; a retention call-back, which has no complaint, is keyed by customer id.

A call-back's life: ``followup.scheduled`` -> ``followup.due`` (it is time to call) ->
``followup.overdue`` if nobody has called within the policy's window. An unanswered call is
``followup.attempt_failed`` (with the next attempt's time) until the last attempt, then
``followup.unreachable``. A reached customer ends it: satisfied -> ``followup.completed``
then ``survey.requested`` (once per resolution cycle); not satisfied ->
``complaint.reopened`` (escalation reopens the case; its next ``case.resolved`` brings a new
call-back). ``followup.rescheduled``: the customer asked to be called at another time.
``followup.cancelled``: a later resolution replaced an open call-back, or the case ended
elsewhere."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.events.common import ContactCard, EventData, Tier


class CallbackKind(StrEnum):
    RESOLUTION = "resolution"  # after a case is resolved
    REMEDIAL = "remedial"  # after a survey answered neutral or below
    RETENTION = "retention"  # a customer dropped a tier


class TierChange(BaseModel):
    """Why a retention call-back was scheduled: the monthly tier fell."""

    from_tier: Tier
    to_tier: Tier
    month: str  # YYYY-MM, the month that set the new tier
    visits: int
    previous_visits: int


class FollowupScheduled(EventData):
    event_type = "followup.scheduled"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: CallbackKind
    customer: ContactCard
    due_at: datetime
    reason: str
    overdue_at: datetime | None = None
    round: int | None = None  # the case round that was resolved (resolution call-backs)
    tier_change: TierChange | None = None  # retention call-backs


class FollowupDue(EventData):
    """The call-back is due: it enters the agents' work queue as one to call now."""

    event_type = "followup.due"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: CallbackKind
    due_at: datetime
    overdue_at: datetime
    attempt: int  # the attempt this is (1 = first call)
    team: str | None = None  # the follow-up team whose queue it is in (staff directory)
    assignee: str | None = None  # the person who took it, if anyone


class FollowupRescheduled(EventData):
    event_type = "followup.rescheduled"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    due_at: datetime
    overdue_at: datetime
    by: str
    reason: str | None = None


class FollowupCancelled(EventData):
    """An open call-back will not be made: a later resolution of the same complaint replaced
    it, or the case ended elsewhere (a court, an outside body)."""

    event_type = "followup.cancelled"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    reason: str


class FollowupAttemptFailed(EventData):
    event_type = "followup.attempt_failed"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    attempt: int
    next_attempt_at: datetime
    max_attempts: int | None = None
    by: str | None = None


class FollowupOverdue(EventData):
    event_type = "followup.overdue"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    due_at: datetime
    overdue_at: datetime


class FollowupCompleted(EventData):
    """The customer was reached. ``satisfied`` is false only for a retention call-back (there
    is no complaint to reopen); an unhappy customer of a complaint is ``complaint.reopened``."""

    event_type = "followup.completed"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    by: str
    customer_words: str | None = None
    kind: CallbackKind | None = None
    satisfied: bool = True


class FollowupUnreachable(EventData):
    event_type = "followup.unreachable"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    attempts: int


class ComplaintReopened(EventData):
    """The customer is still unhappy after a call-back: escalation reopens the case."""

    event_type = "complaint.reopened"

    complaint_id: uuid.UUID
    callback_id: uuid.UUID
    at: datetime
    by: str
    customer_words: str | None = None
    round: int | None = None  # the resolved round the customer is unhappy with


class SurveyReason(StrEnum):
    SATISFIED = "satisfied"
    UNREACHABLE = "unreachable"


class SurveyRequested(EventData):
    """Ask the customer for a rating of one resolution cycle. Version 2: no token travels
    here; the notification service makes one, sends the link and publishes
    ``survey.invited`` (its hash and ``survey_id``). One survey per complaint and cycle: a
    remedial call-back after an answered survey asks for none."""

    event_type = "survey.requested"
    schema_version = 2

    survey_id: uuid.UUID  # the opaque id of this survey, made by follow-up
    complaint_id: uuid.UUID
    callback_id: uuid.UUID
    cycle: int = Field(ge=1)  # the resolution cycle (case round) the survey measures
    customer: ContactCard  # the notification service sends the invitation to it
    requested_at: datetime
    reason: SurveyReason
