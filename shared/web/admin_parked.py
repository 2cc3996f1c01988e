"""``/admin/parked``: the events a consumer group of this service parked, for an admin to
list, read (with the error and the payload), redrive or discard. The same operations as
``python -m services.<name> parked ...`` (shared/cli/parked.py)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging import parked
from shared.web.ops_auth import Principal, Role, require

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin/parked", tags=["operations"])
Admin = Annotated[Principal, require(Role.ADMIN)]


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
ParkedId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# PostgreSQL refuses NUL in text: a 422 naming the field, not a 500 from the database.
_TEXT = r"^[^\x00]*$"
Text = Annotated[str | None, Query(max_length=500, pattern=_TEXT)]
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown bearer token"},
    403: {"description": "the admin role is needed"},
}


DECISION_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no parked event with this id"},
    409: {"description": "the event is not parked (held behind another, or done)"},
}


class AuditOut(BaseModel):
    action: str
    actor: str
    reason: str
    at: datetime


class ParkedOut(BaseModel):
    id: int
    group: str
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    event_type: str | None
    status: parked.Status
    error_type: str
    error_message: str
    attempts: int
    parked_at: datetime
    resolved_at: datetime | None


class ParkedDetail(ParkedOut):
    error_trace: str | None
    payload: Any = Field(description="the record's value: JSON when it parses, else base64")
    payload_encoding: str
    audit: list[AuditOut]


class ParkedPage(BaseModel):
    items: list[ParkedOut]
    next_after: int | None = Field(description="pass as ?after= for the next page")


class Decision(BaseModel):
    reason: str = Field(
        min_length=3, max_length=500, pattern=_TEXT, description="why, for the audit trail"
    )


def _out(found: parked.ParkedEvent) -> dict[str, Any]:
    return {
        "id": found.id,
        "group": found.group_id,
        "topic": found.topic,
        "partition": found.partition,
        "offset": found.offset,
        "key": found.key,
        "event_id": str(found.event_id) if found.event_id else None,
        "event_type": found.event_type,
        "status": found.status,
        "error_type": found.error_type,
        "error_message": found.error_message,
        "attempts": found.attempts,
        "parked_at": found.parked_at,
        "resolved_at": found.resolved_at,
    }


def payload_view(raw: bytes | None) -> tuple[Any, str]:
    """The payload as JSON when it is JSON, else base64 (a malformed record)."""
    if raw is None:
        return None, "none"
    try:
        return json.loads(raw), "json"
    except ValueError:
        return base64.b64encode(raw).decode(), "base64"


def _detail(found: parked.ParkedEvent) -> ParkedDetail:
    payload, encoding = payload_view(found.payload)
    return ParkedDetail(
        **_out(found),
        error_trace=found.error_trace,
        payload=payload,
        payload_encoding=encoding,
        audit=[AuditOut(**a.__dict__) for a in found.audit],
    )


@router.get("", response_model=ParkedPage, summary="Parked events, oldest first", responses=ANSWERS)
async def list_parked(
    _: Admin,
    sessions: Sessions,
    status: Annotated[list[parked.Status] | None, Query()] = None,
    group: Text = None,
    topic: Text = None,
    key: Text = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ParkedPage:
    """``status`` defaults to the open ones (parked, held, redrive)."""
    statuses = status or [parked.Status.PARKED, parked.Status.HELD, parked.Status.REDRIVE]
    async with sessions() as session:
        found = await parked.list_events(
            session,
            group_id=group,
            topic=topic,
            statuses=statuses,
            key=key,
            after_id=after,
            limit=limit,
        )
    return ParkedPage(
        items=[ParkedOut(**_out(f)) for f in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


@router.get(
    "/{parked_id}",
    response_model=ParkedDetail,
    summary="One parked event",
    responses=ANSWERS | {404: {"description": "no parked event with this id"}},
)
async def show_parked(parked_id: ParkedId, _: Admin, sessions: Sessions) -> ParkedDetail:
    async with sessions() as session:
        try:
            return _detail(await parked.get(session, parked_id))
        except parked.NotFound:
            raise HTTPException(404, "no parked event with this id") from None


async def _decide(
    sessions: async_sessionmaker[AsyncSession], parked_id: int, action, who: Principal, why: str
) -> ParkedDetail:
    try:
        async with sessions.begin() as session:
            found = await action(session, parked_id, who.name, why)
    except parked.NotFound:
        raise HTTPException(404, "no parked event with this id") from None
    except parked.Refused as exc:
        raise HTTPException(409, str(exc)) from None
    # The audit line (the table keeps it too): who, what, which event; the reason stays in
    # the table (free text may name people).
    log.warning(
        "parked event: operator decision",
        extra={"parked_id": parked_id, "action": action.__name__, "by": who.name,
               "group": found.group_id},
    )  # fmt: skip
    return _detail(found)


@router.post(
    "/{parked_id}/redrive",
    response_model=ParkedDetail,
    summary="Replay a parked event (then the events of its key held behind it)",
    responses=ANSWERS | DECISION_ANSWERS,
)
async def redrive_parked(
    parked_id: ParkedId, decision: Decision, who: Admin, sessions: Sessions
) -> ParkedDetail:
    """The consumer group that parked it replays it within seconds; the answer shows it
    queued (``status: redrive``)."""
    return await _decide(sessions, parked_id, parked.request_redrive, who, decision.reason)


@router.post(
    "/{parked_id}/discard",
    response_model=ParkedDetail,
    summary="Give up on a parked event (the events held behind it are then replayed)",
    responses=ANSWERS | DECISION_ANSWERS,
)
async def discard_parked(
    parked_id: ParkedId, decision: Decision, who: Admin, sessions: Sessions
) -> ParkedDetail:
    return await _decide(sessions, parked_id, parked.discard, who, decision.reason)
