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
