"""Thin HTTP entry points for operators: see where messages stand, retry a parked one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notify import usecases
from services.notify.api.schemas import MessagePage, MessageView
from services.notify.domain.messages import Status, Template
from services.notify.store import repository as repo
from services.notify.usecases import Deps, NotFailed, NotFound
from shared.web.ops_auth import Principal, Role, require
from shared.web.pagination import cursor_param

router = APIRouter(tags=["messages"])

Supervisor = Annotated[Principal, require(Role.SUPERVISOR)]


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions


def _deps(request: Request) -> Deps:
    return request.app.state.deps


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
NotifyDeps = Annotated[Deps, Depends(_deps)]


def _view(m: dict[str, Any]) -> MessageView:
    return MessageView(
        message_id=m["id"], **{k: m[k] for k in MessageView.model_fields if k != "message_id"}
    )


@router.get("/messages", response_model=MessagePage, responses={401: {}, 403: {}, 422: {}})
async def list_messages(
    _: Supervisor,
    sessions: Sessions,
    status: Annotated[list[Status] | None, Query(description="Repeat for several")] = None,
    complaint_id: uuid.UUID | None = None,
    template: Template | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """Messages, newest first: ``?status=failed`` lists the parked ones."""
    after = cursor_param(cursor, datetime.fromisoformat, uuid.UUID)
    async with sessions() as session:
        rows, next_cursor = await repo.list_messages(
            session,
            statuses=[s.value for s in status] if status else None,
            complaint_id=complaint_id,
            template=template.value if template else None,
            after=after,  # type: ignore[arg-type]
            limit=limit,
        )
    return MessagePage(items=[_view(r) for r in rows], next_cursor=next_cursor)


@router.get("/messages/{message_id}", response_model=MessageView, responses={404: {}})
async def get_message(message_id: uuid.UUID, _: Supervisor, sessions: Sessions) -> MessageView:
    async with sessions() as session:
        message = await repo.get_message(session, message_id)
    if message is None:
        raise HTTPException(404, "no such message")
    return _view(message)


@router.post(
    "/messages/{message_id}/retry", response_model=MessageView, responses={404: {}, 409: {}}
)
async def retry_message(
    message_id: uuid.UUID, _: Supervisor, sessions: Sessions, deps: NotifyDeps
) -> MessageView:
    """A message parked as failed is delivered again, with a fresh round of attempts."""
    try:
        message = await usecases.retry(sessions, deps, message_id)
    except NotFound:
        raise HTTPException(404, "no such message") from None
    except NotFailed as exc:
        raise HTTPException(409, str(exc)) from None
    return _view(message)
