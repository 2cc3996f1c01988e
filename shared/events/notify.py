"""Events the notification service publishes on ``complaints.notify.v1``.

Key: the complaint id (or the customer id when a message has no complaint). Recipients are
named by kind and id (a person id of the staff directory, or ``customer``), never by address:
addresses are personal data and stay in the notification service."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from shared.events.common import EventData


class RecipientKind(StrEnum):
    STAFF = "staff"
    TEAM = "team"
    CUSTOMER = "customer"


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class MessageSent(EventData):
    """A message reached its channel (the SMTP server, the SMS gateway or the webhook
    accepted it)."""

    event_type = "message.sent"

    message_id: uuid.UUID
    cause_event_id: uuid.UUID  # the event the message is about
    complaint_id: uuid.UUID | None
    recipient_kind: RecipientKind
    recipient: str  # person id, team id, or "customer"
    channel: DeliveryChannel
    template: str
    attempts: int
    at: datetime


class MessageFailed(EventData):
    """Delivery kept failing and the message is parked as failed (it can be retried)."""

    event_type = "message.failed"

    message_id: uuid.UUID
    cause_event_id: uuid.UUID
    complaint_id: uuid.UUID | None
    recipient_kind: RecipientKind
    recipient: str
    channel: DeliveryChannel
    template: str
    attempts: int
    error: str  # the error's type and a redacted message, no addresses
    at: datetime


class SurveyInvited(EventData):
    """The survey invitation went out with a fresh single-use token. Only its SHA-256 travels:
    the clear token exists in the customer's link and in the notification service alone."""

    event_type = "survey.invited"

    survey_id: uuid.UUID
    complaint_id: uuid.UUID
    token_sha256: str  # hex digest of the token in the link
    expires_at: datetime
    at: datetime


class CustomerLinkIssued(EventData):
    """A customer's "My complaint" link went out (in a receipt, a request for contact data or
    a reminder). Only its SHA-256 travels, as with ``survey.invited``: the clear token exists
    in the customer's message alone. Intake accepts the link by this hash and decides how
    long it stays valid (until some time after the complaint is closed)."""

    event_type = "customer_link.issued"

    complaint_id: uuid.UUID
    token_sha256: str  # hex digest of the token in the link
    at: datetime
