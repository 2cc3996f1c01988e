"""Input events from the business's own systems (tills, loyalty cards, booking systems) on
the topic ``customers.activity.v1``. Any upstream system may publish them; the JSON Schema is
exported with the others (``schemas/customer.activity.v1.json``).

Record key: the customer id. Value: a CloudEvent (structured JSON mode, as every platform
event) whose ``type`` is ``customer.activity``, ``subject`` the customer id and ``data`` a
``CustomerActivity``. Example::

    {"specversion": "1.0", "id": "6f1c...", "source": "/store-42/tills",
     "type": "customer.activity", "subject": "cust-1001", "time": "2026-11-02T10:15:00Z",
     "datacontenttype": "application/json",
     "data": {"customer": {"id": "cust-1001", "name": "王芳", "phone": "+86 138 0000 0000",
                           "tier": "A"},
              "kind": "purchase", "at": "2026-11-02T10:14:31Z", "amount": 86.5,
              "location": "store-42"}}

The follow-up service counts each customer's visits per calendar month (a day with any
activity, visit, purchase or exchange, is one visit, so a visit and a purchase on the same
trip count once; duplicates are harmless) and derives the monthly tier (A 11+, B 6-10, C 1-5,
D = came last month, not this month; thresholds in its policy). When a customer drops a tier it
schedules a retention call-back (``followup.scheduled`` with kind ``retention``). A purchase
or an exchange schedules a call some days later (kinds ``after_sale``, ``after_exchange``;
days in its policy); give ``reference`` (the order or receipt number) so that the same
purchase told twice is one call.

Version 2 added the kind ``exchange`` and the optional ``reference``; version 1 events (no
exchange, no reference) are read as before."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.events.common import ContactCard, EventData


class ActivityKind(StrEnum):
    VISIT = "visit"
    PURCHASE = "purchase"
    EXCHANGE = "exchange"  # goods brought back and exchanged (version 2)


class ActivityCustomer(ContactCard):
    """The contact card, with the customer id required: activity is counted per customer."""

    id: str = Field(min_length=1, max_length=200)


class CustomerActivity(EventData):
    """A customer's visit, purchase or exchange, published by the business's own systems on
    ``customers.activity.v1`` (record key and CloudEvent ``subject``: the customer id). A day
    with any activity counts as one visit towards the customer's monthly tier."""

    event_type = "customer.activity"
    schema_version = 2

    customer: ActivityCustomer
    kind: ActivityKind
    at: datetime = Field(description="When the visit or purchase happened (with a time zone)")
    amount: float | None = None
    location: str | None = None
    reference: str | None = Field(
        default=None,
        max_length=200,
        description="The order or receipt number: the same purchase or exchange told twice "
        "(under another event id) is called about once",
    )
