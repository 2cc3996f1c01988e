"""Erasure in satisfaction (``customer.erasure_requested``, see ``shared.events.privacy``):
surveys and answers keep their scores, factors and dates under the pseudonym; the comment
(the customer's own words) goes. Satisfaction erases again on every upstream confirmation
(``customer.erased`` of escalation and follow-up), which follows whatever was in flight.

The rebuild (``python -m services.satisfaction rebuild``) replays these requests like any
other event: the answers it refills from the topics are erased again."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.store.tables import answers, surveys
from shared.events.envelope import Envelope
from shared.events.privacy import CustomerErased, CustomerErasureRequested
from shared.events.topics import Topics
from shared.messaging.consumer import Handler
from shared.privacy import confirm, confirmation_of, forget_published, request_of

SERVICE = "satisfaction"
SOURCE = "/complaint-platform/satisfaction"


async def erase(
    session: AsyncSession, complaint_id: uuid.UUID | None, customer_id: str | None, pseudonym: str
) -> int:
    changed = 0
    for table in (surveys, answers):
        where = (
            table.c.complaint_id == complaint_id
            if complaint_id is not None
            else table.c.customer_id == customer_id
        )
        values: dict = {"customer_id": pseudonym}
        if table is answers:
            values["comment"] = None
        result = await session.execute(sa.update(table).where(where).values(**values))
        changed += result.rowcount or 0
    if complaint_id is not None:
        changed += await forget_published(session, [str(complaint_id)])
    return changed


def handlers(topics: Topics) -> dict[str, Handler]:
    async def on_erasure_requested(session: AsyncSession, event: Envelope) -> None:
        request: CustomerErasureRequested = request_of(event)
        records = 0
        if request.complaint_id is not None or request.customer_id:
            records = await erase(
                session, request.complaint_id, request.customer_id, request.pseudonym
            )
        await confirm(session, topics.satisfaction, SOURCE, SERVICE, request, records)

    async def on_erased_upstream(session: AsyncSession, event: Envelope) -> None:
        erased = confirmation_of(event)
        if erased.complaint_id is not None and erased.service != SERVICE:
            await erase(session, erased.complaint_id, None, erased.pseudonym)

    return {
        CustomerErasureRequested.event_type: on_erasure_requested,
        CustomerErased.event_type: on_erased_upstream,
    }


def requests_in(records: list[tuple[str, bytes | None]]) -> list[CustomerErasureRequested]:
    """The erasure requests among raw records (for the rebuild, which applies them last)."""
    found = []
    for _, value in records:
        try:
            event = Envelope.from_bytes(value or b"")
            if event.type == CustomerErasureRequested.event_type:
                found.append(request_of(event))
        except ValueError:  # pydantic's ValidationError included: not ours to judge here
            continue
    return found


async def apply_all(session: AsyncSession, requests: list[CustomerErasureRequested]) -> None:
    for request in requests:
        await erase(session, request.complaint_id, request.customer_id, request.pseudonym)
