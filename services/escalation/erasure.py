"""Erasure in escalation (``customer.erasure_requested``, see ``shared.events.privacy``): the
case's contact card becomes a tombstone and the free text of its timeline goes; levels,
clocks, outcomes and the steps' times stay for the SLA figures."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.escalation.store.tables import cases, timeline
from shared.events.envelope import Envelope
from shared.events.privacy import CustomerErasureRequested
from shared.events.topics import Topics
from shared.messaging.consumer import Handler
from shared.privacy import ERASED_TEXT, confirm, forget_published, request_of, tombstone

SERVICE = "escalation"
SOURCE = "/complaint-platform/escalation"
# Free text in the timeline's events, by type: what staff wrote about the customer's matter.
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "case.investigated": ("findings",),
    "case.plan_recorded": ("plan",),
    "case.resolved": ("resolution", "compensation"),
    "case.paused": ("reason",),
    "case.reopened": ("reason",),
    "case.escalated": ("note",),
    "case.suspended": ("note",),
    "case.closed": ("note",),
    "case.assigned": ("note",),
    "case.forwarded": ("reason",),
    "case.plan_submitted": ("plan",),
    "case.plan_approved": ("plan",),
    "case.plan_rejected": ("reason",),
    "case.compensation_requested": ("resolution", "compensation"),
    "case.compensation_rejected": ("reason",),
    "case.abuse_flagged": ("note",),
    "case.service_refused": ("reason",),
    "case.service_refusal_lifted": ("reason",),
}


def erased_step(event_type: str, data: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    """A timeline entry's data without personal data."""
    out = dict(data)
    if "customer" in out:
        out["customer"] = tombstone(out["customer"], pseudonym)
    for name in FREE_TEXT.get(event_type, ()):
        if out.get(name) is not None:
            out[name] = ERASED_TEXT
    return out


def erased_authority(raw: dict[str, Any]) -> dict[str, Any]:
    """The case's authority document without free text: who decided what, and when, stays."""
    out = dict(raw or {})
    for key, fields in (("pending_plan", ("plan",)), ("refusal", ("reason",)),
                        ("compensation_request", ("resolution", "description"))):  # fmt: skip
        if out.get(key):
            out[key] = {**out[key], **{f: ERASED_TEXT for f in fields if out[key].get(f)}}
    out["abuse_flags"] = [{**f, "note": ERASED_TEXT} for f in out.get("abuse_flags", [])]
    return out


async def erase_case(session: AsyncSession, complaint_id: uuid.UUID, pseudonym: str) -> int:
    """Erase one case's personal data; returns the rows changed."""
    row = (
        await session.execute(
            sa.select(cases.c.customer, cases.c.authority)
            .where(cases.c.complaint_id == complaint_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return 0
    await session.execute(
        sa.update(cases)
        .where(cases.c.complaint_id == complaint_id)
        .values(
            customer=tombstone(row.customer, pseudonym), authority=erased_authority(row.authority)
        )
    )
    changed = 1
    steps = await session.execute(
        sa.select(timeline.c.id, timeline.c.type, timeline.c.data).where(
            timeline.c.complaint_id == complaint_id
        )
    )
    for step in steps:
        erased = erased_step(step.type, step.data, pseudonym)
        if erased != step.data:
            await session.execute(
                sa.update(timeline).where(timeline.c.id == step.id).values(data=erased)
            )
            changed += 1
    return changed + await forget_published(session, [str(complaint_id)])


def handlers(topics: Topics) -> dict[str, Handler]:
    async def on_erasure_requested(session: AsyncSession, event: Envelope) -> None:
        request: CustomerErasureRequested = request_of(event)
        records = 0
        if request.complaint_id is not None:
            records = await erase_case(session, request.complaint_id, request.pseudonym)
        await confirm(session, topics.handling, SOURCE, SERVICE, request, records)

    return {CustomerErasureRequested.event_type: on_erasure_requested}
