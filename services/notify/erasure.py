"""Erasure in notify (``customer.erasure_requested``, see ``shared.events.privacy``): the
complaint's contact row loses the name, e-mail and phone (the customer id becomes the
pseudonym), and the messages written about it lose their text, which greets and quotes the
customer. A message still waiting can no longer reach anyone: it is parked as failed with
the reason, visible like any other. Delivery records (who, when, which template) stay.

Notify erases again on the upstream services' ``customer.erased`` (escalation on the
handling topic, follow-up on theirs), which follow whatever was in flight."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.domain.messages import Status
from services.notify.store.tables import contacts, messages
from shared.events.envelope import Envelope
from shared.events.privacy import CustomerErased, CustomerErasureRequested
from shared.events.topics import Topics
from shared.messaging.consumer import Handler
from shared.privacy import ERASED_TEXT, confirm, confirmation_of, forget_published, request_of

SERVICE = "notify"
SOURCE = "/complaint-platform/notify"


async def erase(
    session: AsyncSession, complaint_id: uuid.UUID | None, customer_id: str | None, pseudonym: str
) -> int:
    if complaint_id is not None:
        where = contacts.c.complaint_id == complaint_id
    else:
        where = contacts.c.customer_id == customer_id
    complaints = list(
        (
            await session.execute(
                sa.update(contacts)
                .where(where)
                .values(name=None, email=None, phone=None, customer_id=pseudonym)
                .returning(contacts.c.complaint_id)
            )
        ).scalars()
    )
    if complaint_id is not None and complaint_id not in complaints:
        complaints.append(complaint_id)
    if not complaints:
        return 0
    about = messages.c.complaint_id.in_(complaints)
    await session.execute(
        sa.update(messages)
        .where(about, messages.c.status == Status.PENDING)
        .values(status=Status.FAILED, failed_at=sa.func.now(), last_error="personal data erased")
    )
    changed = await session.execute(
        sa.update(messages)
        .where(about)
        .values(subject=ERASED_TEXT, body_text=ERASED_TEXT, body_html=None, body_sms=None)
    )
    keys = [str(c) for c in complaints]
    return len(complaints) + (changed.rowcount or 0) + await forget_published(session, keys)


def handlers(topics: Topics) -> dict[str, Handler]:
    async def on_erasure_requested(session: AsyncSession, event: Envelope) -> None:
        request: CustomerErasureRequested = request_of(event)
        records = 0
        if request.complaint_id is not None or request.customer_id:
            records = await erase(
                session, request.complaint_id, request.customer_id, request.pseudonym
            )
        await confirm(session, topics.notify, SOURCE, SERVICE, request, records)

    async def on_erased_upstream(session: AsyncSession, event: Envelope) -> None:
        erased = confirmation_of(event)
        if erased.complaint_id is not None and erased.service != SERVICE:
            await erase(session, erased.complaint_id, None, erased.pseudonym)

    return {
        CustomerErased.event_type: on_erased_upstream,
        CustomerErasureRequested.event_type: on_erasure_requested,
    }
