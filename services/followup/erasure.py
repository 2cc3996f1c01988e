"""Erasure in follow-up (``customer.erasure_requested``, see ``shared.events.privacy``): the
call-backs' contact cards become tombstones and what the customer said goes; a customer's
activity records (visit days, monthly tiers) stay as figures under the pseudonym.

Follow-up erases again when escalation confirms (``customer.erased`` on the handling topic):
a ``case.resolved`` that was on its way when the request came arrives before that
confirmation, so its call-back is erased too."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.retention import subject_of
from services.followup.store.tables import attempts, callbacks, customers, tier_history, visit_days
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
            sa.select(callbacks.c.id, callbacks.c.customer, callbacks.c.origin)
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
