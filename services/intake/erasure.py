"""Erasure and retention use cases: intake anonymises its own record of the complaints and
publishes ``customer.erasure_requested`` for every other service, in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.domain import contact_chase
from services.intake.domain.erasure import ErasureProgress, StoredComplaint, anonymised
from services.intake.settings import IntakeSettings
from services.intake.store import erasure as store
from shared.events.envelope import Envelope, new_event
from shared.events.privacy import CustomerErased, CustomerErasureRequested, ErasureReason
from shared.events.topics import Topics
from shared.messaging import outbox
from shared.privacy import forget_published, key_of, pseudonym_for
from shared.runtime import Runtime, Task
from shared.timers import cancel_unless_firing

log = logging.getLogger(__name__)
SOURCE = "/complaint-platform/intake"


@dataclass(frozen=True)
class Erasure:
    erasure_id: uuid.UUID
    complaints: int


def _request(
    erasure_id: uuid.UUID,
    reason: ErasureReason,
    complaint_id: uuid.UUID | None,
    customer_id: str | None,
    at: datetime,
) -> Envelope:
    data = CustomerErasureRequested(
        erasure_id=erasure_id,
        reason=reason,
        complaint_id=complaint_id,
        customer_id=customer_id,
        pseudonym=pseudonym_for(erasure_id),
        requested_at=at,
    )
    return new_event(SOURCE, key_of(data), data, time=at)


async def _anonymise_all(
    session: AsyncSession,
    found: list[tuple[uuid.UUID, StoredComplaint]],
    erasure_id: uuid.UUID,
    reason: ErasureReason,
    now: datetime,
) -> list[Envelope]:
    events = []
    for complaint_id, complaint in found:
        await store.anonymise(
            session, complaint_id, anonymised(complaint, pseudonym_for(erasure_id)), now
        )
        events.append(_request(erasure_id, reason, complaint_id, None, now))
    await forget_published(session, [str(cid) for cid, _ in found])
    # Nobody is left to chase: no reminder, no closing as unreachable. A timer a scheduler is
    # firing right now is skipped (waiting for it could deadlock); its handler sees the
    # complaint anonymised and does nothing.
    chased = await store.pending_timers(session, [cid for cid, _ in found], contact_chase.KINDS)
    await cancel_unless_firing(session, chased)
    return events


async def erase_customer(
    sessions: async_sessionmaker[AsyncSession], topics: Topics, customer_id: str
) -> Erasure:
    """Erase one customer's personal data: intake's complaints now, every other service's on
    the events (one per complaint, keyed by it, plus one for the customer's other records)."""
    erasure_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        found = await store.complaints_of_customer(session, customer_id)
        events = await _anonymise_all(session, found, erasure_id, ErasureReason.REQUEST, now)
        events.append(_request(erasure_id, ErasureReason.REQUEST, None, customer_id, now))
        digest = hashlib.sha256(customer_id.encode()).hexdigest()
        await store.record_erasure(
            session, erasure_id, ErasureReason.REQUEST, digest, len(found), now
        )
        await outbox.add(session, topics.intake, events)
    log.info(
        "customer erasure requested",
        extra={"erasure_id": str(erasure_id), "complaints": len(found)},
    )
    return Erasure(erasure_id, len(found))


async def progress(
    sessions: async_sessionmaker[AsyncSession], erasure_id: uuid.UUID, services: list[str]
) -> ErasureProgress | None:
    async with sessions() as session:
        found = await store.get_erasure(session, erasure_id)
        if found is None:
            return None
        confirmed = await store.confirmations(session, erasure_id)
    return ErasureProgress(
        erasure_id=erasure_id,
        reason=found["reason"],
        requested_at=found["requested_at"],
        complaints=found["complaints"],
        confirmed=confirmed,
        services=tuple(services),
    )


async def on_erased(session: AsyncSession, event: Envelope) -> None:
    """Consumer handler: a service confirmed one request of an erasure."""
    erased = CustomerErased.model_validate(event.data)
    await store.record_confirmation(
        session, erased.erasure_id, erased.service, event.subject, erased.records, erased.at
    )


async def anonymise_expired(
    sessions: async_sessionmaker[AsyncSession],
    topics: Topics,
    statuses: list[str],
    retention: timedelta,
    batch: int,
) -> int:
    """Anonymise one batch of complaints closed longer ago than ``retention``; each gets an
    erasure of its own. Returns how many were anonymised."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        found = await store.expired_complaints(session, statuses, now - retention, batch)
        events = []
        for complaint_id, complaint in found:
            erasure_id = uuid.uuid4()
            events += await _anonymise_all(
                session, [(complaint_id, complaint)], erasure_id, ErasureReason.RETENTION, now
            )
            await store.record_erasure(session, erasure_id, ErasureReason.RETENTION, None, 1, now)
        await outbox.add(session, topics.intake, events)
    if found:
        log.info("complaints anonymised after retention", extra={"complaints": len(found)})
    return len(found)


def retention_sweep(runtime: Runtime, settings: IntakeSettings) -> Task:
    """Periodically anonymise the complaints past retention (``INTAKE_RETENTION_DAYS``), in
    batches until none is left; replicas sweep together without taking the same ones."""
    retention = timedelta(days=settings.retention_days)

    async def sweep() -> int:
        return await anonymise_expired(
            runtime.sessions,
            runtime.topics,
            settings.retention_statuses,
            retention,
            settings.retention_batch_size,
        )

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            while not stop.is_set() and await sweep():
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.retention_sweep_seconds)

    return run
