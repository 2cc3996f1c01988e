"""What erasing a complaint's personal data changes in intake's record of it. The figures
(channel, category, severity, tier, dates, status history) stay; whatever identifies or
reaches the customer, or was written by them, goes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.events.privacy import ErasureReason
from shared.privacy import ERASED_TEXT, tombstone


@dataclass(frozen=True)
class StoredComplaint:
    """The parts of a stored complaint that hold personal data (JSON as stored)."""

    customer: dict[str, Any]
    subject: dict[str, Any] | None
    expected_outcome: dict[str, Any] | None


def anonymised(complaint: StoredComplaint, pseudonym: str) -> dict[str, Any]:
    """The column changes that anonymise ``complaint``."""
    subject = complaint.subject
    if subject is not None:
        subject = subject | {"reference": None}  # an order number leads back to the customer
    outcome = complaint.expected_outcome
    if outcome is not None:
        outcome = outcome | {"details": None}
    return {
        "customer": tombstone(complaint.customer, pseudonym),
        "customer_id": pseudonym,
        "description": ERASED_TEXT,
        "documents": [],
        "subject": subject,
        "expected_outcome": outcome,
    }


@dataclass(frozen=True)
class ErasureProgress:
    """How far an erasure got: each service confirms each of its requests."""

    erasure_id: uuid.UUID
    reason: str
    requested_at: datetime
    complaints: int
    confirmed: dict[str, int]  # service -> requests confirmed
    services: tuple[str, ...]  # the services expected to confirm

    @property
    def requests(self) -> int:
        # One per complaint, and for an erasure on request one for the customer's own records.
        return self.complaints + (1 if self.reason == ErasureReason.REQUEST else 0)

    @property
    def pending(self) -> list[str]:
        return [s for s in self.services if self.confirmed.get(s, 0) < self.requests]
