"""Queries of erasure and retention over intake's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.erasure import StoredComplaint
from services.intake.store.tables import complaints, erasure_confirmations, erasures

_COLUMNS = (complaints.c.id, complaints.c.customer, complaints.c.subject)


def _stored(row: Any) -> StoredComplaint:
    return StoredComplaint(row.customer, row.subject, row.expected_outcome)


async def complaints_of_customer(
    session: AsyncSession, customer_id: str
) -> list[tuple[uuid.UUID, StoredComplaint]]:
    """The customer's complaints not anonymised yet, locked for the erasure."""
    rows = await session.execute(
        sa.select(*_COLUMNS, complaints.c.expected_outcome)
        .where(complaints.c.customer_id == customer_id, complaints.c.anonymised_at.is_(None))
        .order_by(complaints.c.received_at)
        .with_for_update()
    )
    return [(row.id, _stored(row)) for row in rows]


async def expired_complaints(
    session: AsyncSession, statuses: list[str], closed_before: datetime, limit: int
) -> list[tuple[uuid.UUID, StoredComplaint]]:
    """Complaints in a final status since before ``closed_before``, not anonymised yet; locked
    with SKIP LOCKED so replicas sweeping together take different ones."""
    rows = await session.execute(
        sa.select(*_COLUMNS, complaints.c.expected_outcome)
        .where(
            complaints.c.anonymised_at.is_(None),
            complaints.c.status_changed_at < closed_before,
            complaints.c.status.in_(statuses),
        )
        .order_by(complaints.c.status_changed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row.id, _stored(row)) for row in rows]


async def anonymise(
    session: AsyncSession, complaint_id: uuid.UUID, changes: dict[str, Any], at: datetime
) -> None:
    await session.execute(
        sa.update(complaints)
        .where(complaints.c.id == complaint_id)
        .values(**changes, anonymised_at=at)
    )


async def pending_timers(
    session: AsyncSession, complaint_ids: list[uuid.UUID], kinds: list[str]
) -> list[int]:
    """Ids of the complaints' timers of ``kinds`` not fired nor cancelled yet."""
    rows = await session.execute(
        sa.text(
            "SELECT id FROM timers WHERE subject = ANY(:subjects) AND kind = ANY(:kinds) "
            "AND fired_at IS NULL AND cancelled_at IS NULL"
        ),
        {"subjects": [str(cid) for cid in complaint_ids], "kinds": kinds},
    )
    return list(rows.scalars())


async def record_erasure(
    session: AsyncSession,
    erasure_id: uuid.UUID,
    reason: str,
    customer_sha256: str | None,
    count: int,
    at: datetime,
) -> None:
    await session.execute(
        sa.insert(erasures).values(
            id=erasure_id,
            reason=reason,
            customer_sha256=customer_sha256,
            complaints=count,
            requested_at=at,
        )
    )


async def record_confirmation(
    session: AsyncSession, erasure_id: uuid.UUID, service: str, key: str, records: int, at: datetime
) -> None:
    await session.execute(
        insert(erasure_confirmations)
        .values(erasure_id=erasure_id, service=service, key=key, records=records, at=at)
        .on_conflict_do_nothing()
    )


async def get_erasure(session: AsyncSession, erasure_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(sa.select(erasures).where(erasures.c.id == erasure_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def confirmations(session: AsyncSession, erasure_id: uuid.UUID) -> dict[str, int]:
    """How many of the erasure's requests each service confirmed."""
    rows = await session.execute(
        sa.select(erasure_confirmations.c.service, sa.func.count())
        .where(erasure_confirmations.c.erasure_id == erasure_id)
        .group_by(erasure_confirmations.c.service)
    )
    return {service: count for service, count in rows.tuples()}
