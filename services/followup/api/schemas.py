"""Request and response bodies of the follow-up API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.web.types import IsoDateTime


class OutcomeIn(BaseModel):
    """What the call found. Reached: say whether the customer is satisfied, in their words if
    they gave some. Not reached: nothing else (the attempt is counted)."""

    model_config = ConfigDict(extra="forbid")

    reached: bool
    satisfied: bool | None = None
    customer_words: str | None = Field(default=None, max_length=4000)
    note: str | None = Field(default=None, max_length=2000)

    def problem(self) -> str | None:
        """What is wrong with ``satisfied``, if anything (the route answers 422 naming it)."""
        if self.reached and self.satisfied is None:
            return "required when the customer was reached"
        if not self.reached and self.satisfied is not None:
            return "only when the customer was reached"
        return None


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: IsoDateTime = Field(description="The time the customer asked for, with a time zone")
    reason: str | None = Field(default=None, max_length=1000)


class AttemptView(BaseModel):
    attempt: int
    at: datetime
    by: str
    reached: bool
    satisfied: bool | None
    customer_words: str | None
    note: str | None


class CallbackView(BaseModel):
    callback_id: uuid.UUID
    kind: str
    state: str
    complaint_id: uuid.UUID | None
    customer: dict[str, Any]
    tier: str  # the customer's tier now (as tier_now)
    tier_now: str
    tier_before: str | None = None  # before a drop (retention call-backs)
    queue_tier: str  # the higher of the two: the queue's order and its tier filter
    severity: str | None
    round: int | None
    reason: str
    details: dict[str, Any] | None
    due_at: datetime
    overdue_at: datetime
    attempts: int
    max_attempts: int
    outcome: str | None
    customer_words: str | None
    closed_by: str | None
    closed_at: datetime | None
    went_overdue_at: datetime | None
    policy_version: str
    created_at: datetime
    updated_at: datetime
    team: str | None = None  # whose queue (staff directory)
    assignee: str | None = None  # who took it
    assignee_name: str | None = None
    taken_at: datetime | None = None
    history: list[AttemptView] | None = None


class CallbackPage(BaseModel):
    items: list[CallbackView]
    next_cursor: str | None


class TierMonth(BaseModel):
    month: str
    visits: int
    tier: str | None
    dropped_from: str | None


class CustomerView(BaseModel):
    customer_id: str
    tier: str | None
    reviewed_month: str | None
    last_activity_month: str
    months: list[TierMonth]


class KindSla(BaseModel):
    kind: str
    by_state: dict[str, int]
    overdue_now: int  # open and past their overdue time
    closed: int  # completed, reopened or unreachable (not cancelled)
    closed_on_time: int  # of those, never overdue
    on_time_rate: float | None  # closed_on_time / closed


class SlaView(BaseModel):
    since: datetime | None
    kinds: list[KindSla]
