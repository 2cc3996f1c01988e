"""Events the follow-up service publishes on ``complaints.followup.v1``.

Key: the complaint id; a retention call-back, which has no complaint, is keyed by customer id."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from shared.events.common import ContactCard, EventData


class CallbackKind(StrEnum):
    RESOLUTION = "resolution"  # after a case is resolved
    REMEDIAL = "remedial"  # after a survey answered neutral or below
    RETENTION = "retention"  # a customer dropped a tier


class FollowupScheduled(EventData):
    event_type = "followup.scheduled"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    kind: CallbackKind
    customer: ContactCard
    due_at: datetime
    reason: str


class FollowupAttemptFailed(EventData):
    event_type = "followup.attempt_failed"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    attempt: int
    next_attempt_at: datetime


class FollowupOverdue(EventData):
    event_type = "followup.overdue"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    due_at: datetime
    overdue_at: datetime


class FollowupCompleted(EventData):
    event_type = "followup.completed"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    by: str
    customer_words: str | None = None


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


class SurveyReason(StrEnum):
    SATISFIED = "satisfied"
    UNREACHABLE = "unreachable"


class SurveyRequested(EventData):
    """Ask the customer for a rating; the token is the single-use credential to answer."""

    event_type = "survey.requested"

    complaint_id: uuid.UUID
    callback_id: uuid.UUID
    survey_token: str
    customer: ContactCard
    requested_at: datetime
    reason: SurveyReason
