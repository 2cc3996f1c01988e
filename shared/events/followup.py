"""Events the follow-up service publishes on ``complaints.followup.v1``.

Key: the complaint id; a call-back with no complaint (retention, after a sale or an
exchange) is keyed by customer id.

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
    """Why the call is made. Version 2 of the events that carry it added ``after_sale`` and
    ``after_exchange`` (DOMAIN.md: "a retailer called 3 days after a sale, and again after an
    exchange"): calls about the customer's activity, with no complaint."""

    RESOLUTION = "resolution"  # after a case is resolved
    REMEDIAL = "remedial"  # after a survey answered neutral or below
    RETENTION = "retention"  # a customer dropped a tier
    AFTER_SALE = "after_sale"  # some days after a purchase
    AFTER_EXCHANGE = "after_exchange"  # some days after an exchange


class CallOutcome(StrEnum):
    """How a call-back ended."""

    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"  # reached and unhappy (a complaint's is reopened)
    UNREACHABLE = "unreachable"  # every attempt failed


class TierChange(BaseModel):
    """Why a retention call-back was scheduled: the monthly tier fell."""

    from_tier: Tier
    to_tier: Tier
    month: str  # YYYY-MM, the month that set the new tier
    visits: int
    previous_visits: int


class FollowupScheduled(EventData):
    """A call-back was scheduled. ``customer`` carries the id and tier only: no consumer
    contacts the customer from it (the agents read the contact data from follow-up).
    Version 2: ``kind`` may be ``after_sale`` or ``after_exchange``."""

    event_type = "followup.scheduled"
    schema_version = 2

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
    """The call-back is due: it enters the agents' work queue as one to call now. Version 2:
    ``kind`` may be ``after_sale`` or ``after_exchange``."""

    event_type = "followup.due"
    schema_version = 2

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
    """The customer was reached. ``satisfied`` is false only for a call-back with no complaint
    to reopen (retention, after a sale or an exchange); an unhappy customer of a complaint is
    ``complaint.reopened``. Version 2: ``kind`` may be ``after_sale`` or ``after_exchange``,
    and the outcome's figures travel with it (``outcome``, ``customer_id``, ``tier``,
    ``tier_before``, ``tier_change``, ``attempts``, ``went_overdue``) so that satisfaction
    can report retention calls without asking follow-up."""

    event_type = "followup.completed"
    schema_version = 2

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    by: str
    customer_words: str | None = None
    kind: CallbackKind | None = None
    satisfied: bool = True
    outcome: CallOutcome | None = None  # satisfied or not_satisfied
    customer_id: str | None = None
    tier: Tier | None = None  # the customer's tier now (after a drop: the lower one)
    tier_before: Tier | None = None  # a retention call's tier before the drop
    tier_change: TierChange | None = None  # retention call-backs
    attempts: int | None = None  # calls made, this one included
    went_overdue: bool | None = None  # whether it was overdue before it was made


class FollowupUnreachable(EventData):
    """Every attempt failed. ``kind`` and the figures (as on ``followup.completed``) are
    given since they were added; older events lack them."""

    event_type = "followup.unreachable"

    callback_id: uuid.UUID
    complaint_id: uuid.UUID | None
    at: datetime
    attempts: int
    kind: CallbackKind | None = None
    outcome: CallOutcome | None = None  # unreachable
    customer_id: str | None = None
    tier: Tier | None = None
    tier_before: Tier | None = None
    tier_change: TierChange | None = None
    went_overdue: bool | None = None


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
