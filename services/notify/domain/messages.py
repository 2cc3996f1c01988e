"""Messages, pure: who receives one, on which channel, in which language, and what happens to
it after a failed attempt (backoff, or parked as failed)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.notify.domain.quiet_hours import QuietHours
from shared.events.notify import DeliveryChannel, RecipientKind

CUSTOMER = "customer"  # the recipient id of every customer message (addresses stay here)
LANGUAGES = ("zh-CN", "en")


class Status(StrEnum):
    PENDING = "pending"  # to be delivered at ``next_attempt_at`` (quiet hours, backoff)
    SENT = "sent"
    FAILED = "failed"  # delivery kept failing: parked, visible, can be retried


class Template(StrEnum):
    # Customers
    RECEIPT = "receipt"
    INFORMATION_NEEDED = "information_needed"
    CONTACT_REMINDER = "contact_reminder"  # still incomplete: a reminder, with the link
    FORWARDED = "forwarded"  # passed to the responsible department, with when to expect the answer
    PLAN = "plan"
    RESOLUTION = "resolution"
    SURVEY = "survey_invitation"
    CLOSED_UNREACHABLE = "closed_unreachable"  # the contact data never came: closed, submit again
    # Staff
    CASE_ASSIGNED = "case_assigned"
    CASE_ESCALATED = "case_escalated"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    PAUSE_OVERDUE = "pause_overdue"  # a case paused longer than the policy's reminder time
    CALLBACK_DUE = "callback_due"
    PLAN_APPROVAL = "plan_approval"  # a plan waits for someone holding the approver role
    COMPENSATION_APPROVAL = "compensation_approval"  # compensation above the requester's limit


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: str  # person id, team id, or "customer"
    channel: DeliveryChannel
    language: str


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str | None  # e-mail only
    sms: str | None  # SMS only


@dataclass(frozen=True)
class Draft:
    """A message to write, in the transaction of the event that caused it."""

    cause_event_id: uuid.UUID
    cause_type: str
    complaint_id: uuid.UUID | None
    key: str  # the Kafka key of its outcome events
    recipient: Recipient
    template: Template
    content: Content
    not_before: datetime


def language_of(wanted: str | None, sample: str | None, default: str) -> str:
    """The customer's stated language when we have templates for it; else the language of
    their own words (Chinese characters, or plain Latin letters); else the default."""
    for candidate in (wanted, None if sample else default):
        if candidate and candidate.lower().startswith("zh"):
            return "zh-CN"
        if candidate and candidate.lower().startswith("en"):
            return "en"
    if sample and any("\u4e00" <= ch <= "\u9fff" for ch in sample):
        return "zh-CN"
    if sample and sample.isascii() and any(ch.isalpha() for ch in sample):
        return "en"
    return "zh-CN" if default.lower().startswith("zh") else "en"


def not_before(recipient: Recipient, at: datetime, quiet: QuietHours) -> datetime:
    """Quiet hours hold text messages to customers; staff and e-mail are never held."""
    if recipient.kind == RecipientKind.CUSTOMER and recipient.channel == DeliveryChannel.SMS:
        return quiet.release(at)
    return at


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    base: timedelta
    cap: timedelta


@dataclass(frozen=True)
class AfterFailure:
    status: Status
    next_attempt_at: datetime | None


def after_failure(
    attempts: int,
    permanent: bool,
    now: datetime,
    retry: Retry,
    recipient: Recipient,
    quiet: QuietHours,
    jitter: float | None = None,
) -> AfterFailure:
    """``attempts`` counts the one that just failed. Exponential backoff with jitter (so
    replicas retrying a recovered server do not all come at once), held by quiet hours."""
    if permanent or attempts >= retry.max_attempts:
        return AfterFailure(Status.FAILED, None)
    delay = min(retry.cap, retry.base * 2 ** (attempts - 1))
    spread = random.uniform(0.8, 1.2) if jitter is None else jitter
    return AfterFailure(Status.PENDING, not_before(recipient, now + delay * spread, quiet))
