"""Input events from the business's own systems on ``customers.activity.v1`` (key: customer
id): visits and purchases, from which follow-up computes monthly tiers for retention calls."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from shared.events.common import ContactCard, EventData


class ActivityKind(StrEnum):
    VISIT = "visit"
    PURCHASE = "purchase"


class CustomerActivity(EventData):
    event_type = "customer.activity"

    customer: ContactCard
    kind: ActivityKind
    at: datetime
    amount: float | None = None
    location: str | None = None
