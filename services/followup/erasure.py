"""Erasure in follow-up (``customer.erasure_requested``, see ``shared.events.privacy``): the
call-backs' contact cards become tombstones and what the customer said goes; a customer's
activity records (visit days, monthly tiers) stay as figures under the pseudonym. Calls about
purchases lose the order references, places and amounts (a reference leads back to the
customer), and the record of which purchases were called about goes.

Follow-up erases again when escalation confirms (``customer.erased`` on the handling topic):
a ``case.resolved`` that was on its way when the request came arrives before that
confirmation, so its call-back is erased too."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.domain.outcomes import ABOUT_ACTIVITY
from services.followup.retention import subject_of
from services.followup.store.tables import (
    activities,
    attempts,
    callbacks,
    customers,
    tier_history,
    visit_days,
)
from shared.events.envelope import Envelope
from shared.events.privacy import CustomerErased, CustomerErasureRequested
from shared.events.topics import Topics
from shared.messaging.consumer import Handler
from shared.privacy import (
    ERASED_TEXT,
    confirm,
    confirmation_of,
    forget_published,
    request_of,
    tombstone,
)

SERVICE = "followup"
SOURCE = "/complaint-platform/followup"


async def _erase_callbacks(
    session: AsyncSession, where: sa.ColumnElement[bool], pseudonym: str
) -> int:
    rows = (
        await session.execute(
            sa.select(callbacks.c.id, callbacks.c.customer, callbacks.c.details)
            .where(where)
            .with_for_update()
        )
    ).all()
    for row in rows:
        await session.execute(
            sa.update(callbacks)
            .where(callbacks.c.id == row.id)
            .values(
                customer=tombstone(row.customer, pseudonym),
                customer_id=pseudonym,
                customer_words=None,
                reason=ERASED_TEXT,
                details=erased_details(row.details),
            )
        )
    ids = [row.id for row in rows]
    if ids:
        await session.execute(
            sa.update(attempts)
            .where(attempts.c.callback_id.in_(ids))
            .values(customer_words=None, note=None)
        )
    return len(rows)


# What of a purchase listed on its call-back may lead back to the customer.
ACTIVITY_PERSONAL = ("reference", "location", "amount")


def erased_details(details: dict | None) -> dict | None:
    """A call-back's details without the purchases' references, places and amounts."""
    if not details or "activities" not in details:
        return details
    kept = [
        {k: v for k, v in a.items() if k not in ACTIVITY_PERSONAL} for a in details["activities"]
    ]
    return details | {"activities": kept}


async def erase_complaint(session: AsyncSession, complaint_id: uuid.UUID, pseudonym: str) -> int:
    changed = await _erase_callbacks(session, callbacks.c.complaint_id == complaint_id, pseudonym)
    return changed + await forget_published(session, [str(complaint_id)])


async def erase_customer(session: AsyncSession, customer_id: str, pseudonym: str) -> int:
    """The customer's records tied to no complaint: the activity card, retention call-backs
    (and any call-back still carrying the id), the review timer's subject."""
    changed = await _erase_callbacks(session, callbacks.c.customer_id == customer_id, pseudonym)
    await session.execute(
        sa.update(callbacks)
        .where(callbacks.c.origin.like(f"retention:{_like(customer_id)}:%"))
        .values(
            origin=sa.func.replace(
                callbacks.c.origin, f"retention:{customer_id}:", f"retention:{pseudonym}:"
            )
        )
    )
    # Calls about purchases: their origin named the order; the call-back's id stands for it.
    await session.execute(
        sa.update(callbacks)
        .where(
            callbacks.c.customer_id == pseudonym,
            callbacks.c.kind.in_([k.value for k in ABOUT_ACTIVITY]),
        )
        .values(origin=callbacks.c.kind + f":{pseudonym}:" + sa.cast(callbacks.c.id, sa.Text))
    )
    await session.execute(sa.delete(activities).where(activities.c.customer_id == customer_id))
    card = await session.scalar(
        sa.select(customers.c.card).where(customers.c.customer_id == customer_id).with_for_update()
    )
    if card is not None:
        await session.execute(
            sa.update(customers)
            .where(customers.c.customer_id == customer_id)
            .values(customer_id=pseudonym, card=tombstone(card, pseudonym))
        )
        changed += 1
    for table in (visit_days, tier_history):
        await session.execute(
            sa.update(table).where(table.c.customer_id == customer_id).values(customer_id=pseudonym)
        )
    await session.execute(
        sa.text("UPDATE timers SET subject = :new WHERE subject = :old"),
        {"old": subject_of(customer_id), "new": subject_of(pseudonym)},
    )
    return changed + await forget_published(session, [customer_id])


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def handlers(topics: Topics) -> dict[str, Handler]:
    async def on_erasure_requested(session: AsyncSession, event: Envelope) -> None:
        request: CustomerErasureRequested = request_of(event)
        if request.complaint_id is not None:
            records = await erase_complaint(session, request.complaint_id, request.pseudonym)
        elif request.customer_id:
            records = await erase_customer(session, request.customer_id, request.pseudonym)
        else:
            records = 0
        await confirm(session, topics.followup, SOURCE, SERVICE, request, records)

    async def on_erased_upstream(session: AsyncSession, event: Envelope) -> None:
        erased = confirmation_of(event)
        if erased.complaint_id is not None and erased.service != SERVICE:
            await erase_complaint(session, erased.complaint_id, erased.pseudonym)

    return {
        CustomerErasureRequested.event_type: on_erasure_requested,
        CustomerErased.event_type: on_erased_upstream,
    }
