"""Erasure of a customer's personal data, across every service.

``customer.erasure_requested`` travels on ``complaints.intake.v1``: intake publishes one per
complaint of the customer (key: the complaint id, so it follows that complaint's own events)
and one for the customer's records tied to no complaint (key: the pseudonym; follow-up's
visit counts and retention call-backs). It is published for an erasure an operator asked for
(``POST /customers/{id}/erase`` on intake) and, per complaint, when a closed complaint has
been kept for the retention period. Every service that keeps personal data consumes it:
contact data becomes a tombstone (``ContactCard`` with ``erased`` set and only the tier
left), the customer id becomes the erasure's ``pseudonym``, free text written by or about the
customer is dropped; figures and the anonymous history stay.

``customer.erased`` is each service's confirmation, published on its own topic (escalation on
``complaints.handling.v1``, follow-up on ``complaints.followup.v1``, satisfaction on
``complaints.satisfaction.v1``, notify on ``complaints.notify.v1``), keyed like the request.
Because it follows that service's earlier events of the complaint on the same partition, a
downstream service erases again when it sees it: whatever was in flight when the request came
is erased too."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.common import EventData


class ErasureReason(StrEnum):
    REQUEST = "request"  # the customer (or an operator for them) asked
    RETENTION = "retention"  # the complaint was closed longer ago than the retention period


class CustomerErasureRequested(EventData):
    """Erase the personal data of one complaint (``complaint_id``), or the customer's records
    tied to no complaint (``complaint_id`` null, ``customer_id`` given)."""

    event_type = "customer.erasure_requested"

    erasure_id: uuid.UUID
    reason: ErasureReason
    complaint_id: uuid.UUID | None
    customer_id: str | None = Field(
        default=None, description="Only on the customer-level request (no complaint_id)"
    )
    pseudonym: str = Field(description="What replaces the customer id wherever it is kept")
    requested_at: datetime


class CustomerErased(EventData):
    """A service erased what it kept of a ``customer.erasure_requested``."""

    event_type = "customer.erased"
    # Each service publishes it on its own topic (see the module's docstring).
    published_on: ClassVar[tuple[str, ...]] = ("handling", "followup", "satisfaction", "notify")

    erasure_id: uuid.UUID
    complaint_id: uuid.UUID | None
    pseudonym: str
    service: str
    records: int = Field(description="How many records the service changed")
    at: datetime
