"""What the messages API shows: where a message stands, never its address or its words
(they hold personal data and, for a survey, the customer's token)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shared.events.notify import DeliveryChannel, RecipientKind


class MessageView(BaseModel):
    message_id: uuid.UUID
    status: str
    complaint_id: uuid.UUID | None
    cause_event_id: uuid.UUID
    cause_type: str
    recipient_kind: RecipientKind
    recipient: str
    channel: DeliveryChannel
    template: str
    language: str
    subject: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageView]
    next_cursor: str | None
