"""What every service does with an erasure (see ``shared.events.privacy``): tombstones for
contact cards and free text, forgetting the published copies in its outbox, and the
``customer.erased`` confirmation. The services' erasure handlers are small on top of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope, new_event
from shared.events.privacy import CustomerErased, CustomerErasureRequested
from shared.messaging import outbox

# Replaces free text written by or about the customer (descriptions, notes, comments).
ERASED_TEXT = "[erased]"
# The fields of a contact card (and of intake's fuller customer record) that identify or reach
# the customer; the tier is not among them (figures are kept by tier).
PERSONAL_FIELDS = ("name", "phone", "email", "organisation", "address", "relation")


def pseudonym_for(erasure_id: uuid.UUID) -> str:
    """A replacement for the customer id: the same in every service for one erasure, and not
    derived from the id, so nothing leads back to the customer."""
    return f"erased-{erasure_id}"


def tombstone(card: dict[str, Any] | None, pseudonym: str) -> dict[str, Any]:
    """A contact card (as stored, JSON) with its personal data gone and its tier kept."""
    kept = {"tier": (card or {}).get("tier", "C")}
    return kept | {"id": pseudonym, "erased": True}


def is_erased(card: dict[str, Any] | None) -> bool:
    return bool(card and card.get("erased"))


async def forget_published(session: AsyncSession, keys: list[str]) -> int:
    """Delete the copies of ``keys``' events a service keeps once done with them: published
    (or discarded) outbox rows, and consumed events parked and since resolved (redriven or
    discarded). They are kept a while only for inspection, and hold personal data. Rows still
    to be published or replayed stay: they must go out, and the erasure follows them."""
    if not keys:
        return 0
    result = await session.execute(
        sa.text(
            "DELETE FROM outbox WHERE key = ANY(:keys) "
            "AND (sent_at IS NOT NULL OR discarded_at IS NOT NULL)"
        ),
        {"keys": keys},
    )
    forgotten = result.rowcount or 0
    if await session.scalar(sa.text("SELECT to_regclass('parked_events') IS NOT NULL")):
        result = await session.execute(
            sa.text(
                "DELETE FROM parked_events WHERE key = ANY(:keys) "
                "AND status IN ('redriven', 'discarded')"
            ),
            {"keys": keys},
        )
        forgotten += result.rowcount or 0
    return forgotten


def request_of(event: Envelope) -> CustomerErasureRequested:
    return CustomerErasureRequested.model_validate(event.data)


def key_of(request: CustomerErasureRequested) -> str:
    """The record key (and subject) of the request and its confirmations: the complaint id,
    or for the customer-level request the pseudonym (the customer id travels in one place)."""
    return str(request.complaint_id) if request.complaint_id else request.pseudonym


async def confirm(
    session: AsyncSession,
    topic: str,
    source: str,
    service: str,
    request: CustomerErasureRequested,
    records: int,
) -> None:
    """Publish ``customer.erased`` through the outbox, in the erasure's transaction."""
    now = datetime.now(UTC)
    event = new_event(
        source,
        key_of(request),
        CustomerErased(
            erasure_id=request.erasure_id,
            complaint_id=request.complaint_id,
            pseudonym=request.pseudonym,
            service=service,
            records=records,
            at=now,
        ),
        time=now,
    )
    await outbox.add(session, topic, [event])


def confirmation_of(event: Envelope) -> CustomerErased:
    return CustomerErased.model_validate(event.data)
