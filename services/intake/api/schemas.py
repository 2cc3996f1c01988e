"""Response bodies of the intake API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class Rejection(BaseModel):
    reason: str
    explanation: str
    other_channel: str


class ComplaintAnswer(BaseModel):
    """What the channel tells the customer right after submitting."""

    complaint_id: uuid.UUID
    status: str
    severity: str
    severity_reasons: list[str]
    valid: bool
    received_at: datetime
    acknowledge_by: datetime | None
    missing_fields: list[str]
    rejection: Rejection | None
    message: str


class StatusChange(BaseModel):
    status: str
    event_type: str
    at: datetime


class ComplaintView(BaseModel):
    complaint_id: uuid.UUID
    status: str
    channel: str
    category: str
    severity: str
    severity_reasons: list[str]
    valid: bool
    rejection_reason: str | None
    customer: dict[str, Any]
    description: str
    subject: dict[str, Any] | None
    expected_outcome: dict[str, Any] | None
    documents: list[dict[str, Any]]
    missing_fields: list[str]
    received_at: datetime
    acknowledge_by: datetime | None
    escalation_level: str | None
    status_changed_at: datetime
    history: list[StatusChange] | None = None


class ComplaintPage(BaseModel):
    items: list[ComplaintView]
    next_cursor: str | None


class Step(BaseModel):
    status: str
    at: datetime


class MyComplaint(BaseModel):
    """A complaint as its customer may see it through their link: where it stands and what
    was promised, none of their personal data (the link may be forwarded or overheard)."""

    complaint_id: uuid.UUID
    reference: str
    status: str
    category: str
    received_at: datetime
    acknowledge_by: datetime | None
    deadlines: dict[str, datetime]
    missing_fields: list[str]
    closes_at: datetime | None  # awaiting information: when it is closed as unreachable
    rejection_reason: str | None
    link_expires_at: datetime | None  # None while the complaint is being handled
    history: list[Step]


class IncompleteComplaint(BaseModel):
    complaint_id: uuid.UUID
    channel: str
    category: str
    received_at: datetime
    missing_fields: list[str]
    reminders_sent: int
    next_reminder_at: datetime | None
    closes_at: datetime | None


class IncompletePage(BaseModel):
    items: list[IncompleteComplaint]
    next_cursor: str | None
