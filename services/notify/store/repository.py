"""Queries over notify's tables. Functions take the caller's session: the caller owns the
transaction (an event's inbox record, its messages and outbox events commit together)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.domain.messages import Draft, Status
from services.notify.store.tables import cases, contacts, messages, surveys
from shared.web.pagination import encode_cursor

# ---- contacts and cases ---------------------------------------------------------------------


async def upsert_contact(
    session: AsyncSession, values: dict[str, Any], *, keep_language: bool
) -> dict[str, Any]:
    """Newer contact data wins; fields an event does not carry keep what was known, and so
    does the language unless the event states one. Returns the contact as it now is."""
    given = {k: v for k, v in values.items() if v is not None}
    query = insert(contacts).values(**given)
    changes = {k: query.excluded[k] for k in given if k != "complaint_id"}
    if keep_language:
        changes.pop("language", None)
    row = (
        (
            await session.execute(
                query.on_conflict_do_update(
                    index_elements=[contacts.c.complaint_id], set_=changes
                ).returning(*contacts.c)
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


async def get_contact(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(sa.select(contacts).where(contacts.c.complaint_id == complaint_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def upsert_case(session: AsyncSession, values: dict[str, Any]) -> None:
    """Like ``upsert_contact``: only the fields given change (owners may become None on
    purpose: pass them explicitly with ``set_owner``)."""
    given = {k: v for k, v in values.items() if v is not None}
    query = insert(cases).values(**given)
    await session.execute(
        query.on_conflict_do_update(
            index_elements=[cases.c.complaint_id],
            set_={k: query.excluded[k] for k in given if k != "complaint_id"},
        )
    )


async def set_owner(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    team: str | None,
    assignee: str | None,
    rung: str,
    now: datetime,
) -> None:
    values = {"team": team, "assignee": assignee, "rung": rung, "updated_at": now}
    query = insert(cases).values(complaint_id=complaint_id, **values)
    await session.execute(
        query.on_conflict_do_update(index_elements=[cases.c.complaint_id], set_=values)
    )


async def get_case(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(sa.select(cases).where(cases.c.complaint_id == complaint_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


# ---- messages -----------------------------------------------------------------------------


async def add_messages(session: AsyncSession, drafts: list[Draft], now: datetime) -> int:
    """Write the drafts; a draft whose (cause, recipient, channel, template) exists is
    skipped. Returns how many were new."""
    if not drafts:
        return 0
    rows = [
        {
            "id": uuid.uuid4(),
            "cause_event_id": d.cause_event_id,
            "cause_type": d.cause_type,
            "complaint_id": d.complaint_id,
            "key": d.key,
            "recipient_kind": d.recipient.kind.value,
            "recipient": d.recipient.id,
            "channel": d.recipient.channel.value,
            "template": d.template.value,
            "language": d.recipient.language,
            "subject": d.content.subject,
            "body_text": d.content.text,
            "body_html": d.content.html,
            "body_sms": d.content.sms,
            "status": Status.PENDING.value,
            "next_attempt_at": d.not_before,
            "created_at": now,
            "updated_at": now,
        }
        for d in drafts
    ]
    result = await session.execute(
        insert(messages).values(rows).on_conflict_do_nothing().returning(messages.c.id)
    )
    return len(result.all())


async def claim_due(session: AsyncSession, now: datetime) -> dict[str, Any] | None:
    """Lock one message due by ``now`` that no other worker holds (``SKIP LOCKED``): it stays
    locked while it is sent and its outcome recorded, in this transaction."""
    row = (
        (
            await session.execute(
                sa.select(messages)
                .where(messages.c.status == Status.PENDING.value)
                .where(messages.c.next_attempt_at <= now)
                .order_by(messages.c.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def next_due(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        sa.select(sa.func.min(messages.c.next_attempt_at)).where(
            messages.c.status == Status.PENDING.value
        )
    )


async def update_message(
    session: AsyncSession, message_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    await session.execute(sa.update(messages).where(messages.c.id == message_id).values(**changes))


async def get_message(
    session: AsyncSession, message_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    query = sa.select(messages).where(messages.c.id == message_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


async def list_messages(
    session: AsyncSession,
    *,
    statuses: list[str] | None,
    complaint_id: uuid.UUID | None,
    template: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paged by (created_at, id)."""
    query = sa.select(messages)
    if statuses:
        query = query.where(messages.c.status.in_(statuses))
    if complaint_id is not None:
        query = query.where(messages.c.complaint_id == complaint_id)
    if template is not None:
        query = query.where(messages.c.template == template)
    if after is not None:
        query = query.where(sa.tuple_(messages.c.created_at, messages.c.id) < sa.tuple_(*after))
    query = query.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(limit + 1)
    rows = [dict(r) for r in (await session.execute(query)).mappings()]
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return rows, cursor


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
    )
    return {status: count for status, count in rows.all()}


async def failed_ids(session: AsyncSession, complaint_id: uuid.UUID | None) -> list[uuid.UUID]:
    query = sa.select(messages.c.id).where(messages.c.status == Status.FAILED.value)
    if complaint_id is not None:
        query = query.where(messages.c.complaint_id == complaint_id)
    return list((await session.execute(query)).scalars())


# ---- surveys ------------------------------------------------------------------------------


async def add_survey(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the survey was invited before."""
    inserted = await session.scalar(
        insert(surveys).values(**values).on_conflict_do_nothing().returning(surveys.c.survey_id)
    )
    return inserted is not None
