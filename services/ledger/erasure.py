"""Erasure in the ledger (``customer.erasure_requested`` on the intake topic, see
``shared.events.privacy`` and ``domain/erasure.py``): the entry's customer id becomes the
pseudonym, what staff wrote about the matter and the order reference go, kept summaries name
the pseudonym among their repeat complainants, and the ledger's published copies of the
complaint's events are forgotten.

The ledger erases again on every upstream confirmation (``customer.erased`` of escalation,
follow-up and satisfaction, each on its own topic after that service's earlier events of the
complaint): whatever was in flight when the request came is erased too, and an erased entry
stays erased as later events are folded in (``consumers.py``). The ledger publishes no
confirmation of its own: intake waits for the services that hold contact data
(``INTAKE_ERASURE_SERVICES``), and the ledger holds none."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.domain.erasure import erase, summary_without
from services.ledger.store import repository as repo
from services.ledger.store.tables import entries, summaries
from shared.events.envelope import Envelope
from shared.events.privacy import CustomerErased, CustomerErasureRequested
from shared.messaging.consumer import Handler
from shared.privacy import confirmation_of, forget_published, request_of

log = logging.getLogger(__name__)


async def erase_complaint(session: AsyncSession, complaint_id: uuid.UUID, pseudonym: str) -> int:
    """Erase one complaint's entry (if the ledger has it); returns the records changed."""
    exists = await session.scalar(
        sa.select(entries.c.complaint_id).where(entries.c.complaint_id == complaint_id)
    )
    if exists is None:
        return 0
    entry = await repo.lock_entry(session, complaint_id)
    original = entry.customer_id
    erase(entry, pseudonym, datetime.now(UTC))
    await repo.save_entry(session, entry)
    changed = 1
    if original and original != pseudonym:
        changed += await _rename_in_summaries(session, original, pseudonym)
    return changed + await forget_published(session, [str(complaint_id)])


async def erase_customer(session: AsyncSession, customer_id: str, pseudonym: str) -> int:
    """The customer-level request: every entry still naming the customer (those of complaints
    intake has no request for, if any), in id order like every batch's locks."""
    found = await session.scalars(
        sa.select(entries.c.complaint_id)
        .where(entries.c.customer_id == customer_id)
        .order_by(entries.c.complaint_id)
    )
    changed = 0
    for complaint_id in list(found):
        changed += await erase_complaint(session, complaint_id, pseudonym)
    return changed + await _rename_in_summaries(session, customer_id, pseudonym)


async def _rename_in_summaries(session: AsyncSession, customer_id: str, pseudonym: str) -> int:
    naming = {"repeat_complainants": {"list": [{"customer_id": customer_id}]}}
    rows = (
        await session.execute(
            sa.select(summaries.c.id, summaries.c.figures, summaries.c.period)
            .where(summaries.c.figures.contains(naming))
            .order_by(summaries.c.id)
            .with_for_update()
        )
    ).all()
    for row in rows:
        await session.execute(
            sa.update(summaries)
            .where(summaries.c.id == row.id)
            .values(figures=summary_without(row.figures, customer_id, pseudonym))
        )
    # The published copies of those summaries kept in the outbox name the customer too.
    await forget_published(session, sorted({f"summary:{row.period}" for row in rows}))
    return len(rows)


def handlers() -> dict[str, Handler]:
    async def on_erasure_requested(session: AsyncSession, event: Envelope) -> None:
        request = request_of(event)
        if request.complaint_id is not None:
            records = await erase_complaint(session, request.complaint_id, request.pseudonym)
        elif request.customer_id:
            records = await erase_customer(session, request.customer_id, request.pseudonym)
        else:
            records = 0
        log.info(
            "erasure applied",
            extra={"erasure_id": str(request.erasure_id), "records": records},
        )

    async def on_erased_upstream(session: AsyncSession, event: Envelope) -> None:
        erased = confirmation_of(event)
        if erased.complaint_id is not None:
            await erase_complaint(session, erased.complaint_id, erased.pseudonym)

    return {
        CustomerErasureRequested.event_type: on_erasure_requested,
        CustomerErased.event_type: on_erased_upstream,
    }
