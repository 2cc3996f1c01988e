"""Events the intake service publishes on ``complaints.intake.v1``.

Personal data: ``customer`` (name, phone, e-mail, organisation, address) and the free text
(``description``, the expected outcome's ``details``) are personal. They travel because
some consumers need them, named in each event's docstring; a consumer that does not need them
keeps only the customer's id and tier. The topic keeps them for its bounded retention
(``KAFKA_PERSONAL_DATA_RETENTION_DAYS``, shared/privacy_topics.py); the databases lose them
on erasure (``customer.erasure_requested``, shared/events/privacy.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.events.common import Channel, EventData, Mode, Severity, Tier


class Customer(BaseModel):
    """The complainant as the channel recorded them (DOMAIN.md's required data). Intake
    publishes the id, name, phone, e-mail and tier only: ``organisation``, ``address`` and
    ``relation`` are needed by no consumer and stay in intake's record (the fields remain
    in the schema, optional, so readers of earlier events keep working)."""

    id: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    tier: Tier = Tier.C
    organisation: str | None = None
    address: str | None = None
    relation: str | None = Field(
        default=None, description="The complainant's relation to the product or contract"
    )


class SubjectKind(StrEnum):
    PRODUCT = "product"
    ORDER = "order"
    SITE = "site"
    SERVICE = "service"


class Subject(BaseModel):
    """What the complaint is about, with its dates."""

    kind: SubjectKind
    reference: str | None = Field(default=None, description="Product code, order or site number")
    name: str | None = None
    purchased_on: date | None = None
    delivered_on: date | None = None
    incident_on: date | None = None
    warranty_until: date | None = None


class OutcomeKind(StrEnum):
    REPAIR = "repair"
    EXCHANGE = "exchange"
    REFUND = "refund"
    APOLOGY = "apology"
    EXPLANATION = "explanation"
    COMPENSATION = "compensation"
    DAMAGES = "damages"
    OTHER = "other"


class ExpectedOutcome(BaseModel):
    kind: OutcomeKind
    details: str | None = None
    amount: float | None = Field(default=None, ge=0)


class Document(BaseModel):
    name: str
    kind: str | None = None
    reference: str | None = Field(default=None, description="Where the document is kept")


class ComplaintReceived(EventData):
    """A valid complaint was recorded. ``information_complete`` is false while contact data is
    missing; the acknowledgement clock starts once it is complete (DOMAIN.md).

    Who needs what: notify writes to the customer (contact data, language of the text);
    escalation keeps the contact card only to hand it to follow-up in ``case.resolved``
    (follow-up calls the customer back), and uses the tier, channel, category and severity;
    satisfaction uses only the id, tier, channel, category and severity."""

    event_type = "complaint.received"

    complaint_id: uuid.UUID
    received_at: datetime
    channel: Channel
    mode: Mode
    category: str
    severity: Severity
    severity_reasons: list[str]
    customer: Customer
    description: str
    subject: Subject | None = None
    expected_outcome: ExpectedOutcome | None = None
    documents: list[Document] = []
    information_complete: bool
    missing_fields: list[str] = []
    acknowledge_by: datetime | None


class RejectionReason(StrEnum):
    OUT_OF_WARRANTY = "out_of_warranty"
    NOT_COVERED = "not_covered"
    IN_LITIGATION = "in_litigation"
    DAMAGES_CLAIM = "damages_claim"


class ComplaintRejected(EventData):
    """An invalid complaint (outside the company's commitments) was recorded and answered.

    Who needs what: notify sends the answer to the customer (contact data); satisfaction
    counts it by channel, category and tier; no case is opened."""

    event_type = "complaint.rejected"

    complaint_id: uuid.UUID
    received_at: datetime
    channel: Channel
    category: str
    customer: Customer
    reason: RejectionReason
    explanation: str
    other_channel: str


class ComplaintCompleted(EventData):
    """The missing contact data of a complaint was supplied; its clocks can start.

    Who needs what: escalation opens the clocks and carries the card on to follow-up; notify
    acknowledges receipt to the customer."""

    event_type = "complaint.completed"

    complaint_id: uuid.UUID
    completed_at: datetime
    customer: Customer
    acknowledge_by: datetime


class ComplaintContactReminderDue(EventData):
    """A complaint still awaits the customer's contact data: remind them (DOMAIN.md: incomplete
    data is recorded and the customer asked to complete it). Intake's durable timers publish it
    at ``INTAKE_CONTACT_REMINDERS`` after receipt.

    Who needs what: notify writes to the customer with their "My complaint" link (it mints
    the link; only its hash comes back, in ``customer_link.issued``). No personal data here."""

    event_type = "complaint.contact_reminder_due"

    complaint_id: uuid.UUID
    reminder: int = Field(ge=1, description="1 for the first reminder, 2 for the second ...")
    missing_fields: list[str]
    received_at: datetime
    closes_at: datetime = Field(description="When the complaint is closed as unreachable")
    at: datetime


class ComplaintClosedUnreachable(EventData):
    """A complaint whose contact data never came is closed as unreachable after
    ``INTAKE_CLOSE_UNREACHABLE_AFTER``. No case was ever opened for it (its clocks never
    started); readers that keep complaints may show it as closed. No personal data here."""

    event_type = "complaint.closed_unreachable"

    complaint_id: uuid.UUID
    received_at: datetime
    closed_at: datetime
    channel: Channel
    category: str
    missing_fields: list[str]
    reminders_sent: int = Field(ge=0)
