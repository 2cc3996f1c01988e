"""``/admin/timers``: durable timers by status (failed by default: parked after repeated
failures), one with its error, retried now, or cancelled with a reason. Admin role. A service
without timers answers 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from shared.ops import timers as ops
from shared.ops.timers import TimerStatus
from shared.web.admin_deps import Admin, DiscardRequest, Engine, RetryRequest, ops_errors
from shared.web.admin_outbox import AuditLineOut
from shared.web.openapi import responses
from shared.web.pagination import cursor_param, encode_cursor
from shared.web.types import Int64


class TimerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    subject: str
    due_at: datetime
    status: TimerStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    failed_at: datetime | None
    fired_at: datetime | None
    cancelled_at: datetime | None


class TimerDetailOut(BaseModel):
    row: TimerOut
    payload: dict[str, Any]
    audit: list[AuditLineOut]


class TimerPage(BaseModel):
    items: list[TimerOut]
    next_cursor: str | None


def admin_timers_router() -> APIRouter:
    router = APIRouter(prefix="/admin/timers", tags=["admin"])

    @router.get(
        "",
        summary="Timers by status (failed by default), oldest first",
        responses=responses(404),  # a service without timers
    )
    async def list_timers(
        _: Admin,
        engine: Engine,
        status: TimerStatus = TimerStatus.FAILED,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> TimerPage:
        after = cursor_param(cursor, int)
        with ops_errors():
            rows = await ops.list_timers(
                engine, status, after=after[0] if after else None, limit=limit
            )
        return TimerPage(
            items=[TimerOut.model_validate(r) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
        )

    @router.get("/{timer_id}", summary="One timer with its error, payload and audit trail")
    async def show(_: Admin, engine: Engine, timer_id: Int64) -> TimerDetailOut:
        with ops_errors():
            found = await ops.get_timer(engine, timer_id)
        return TimerDetailOut(
            row=TimerOut.model_validate(found.row),
            payload=found.payload,
            audit=[AuditLineOut.model_validate(a) for a in found.audit],
        )

    @router.post(
        "/{timer_id}/retry",
        summary="Fire the timer now, with fresh attempts",
        responses=responses(409),
    )
    async def retry(
        who: Admin, engine: Engine, timer_id: Int64, body: RetryRequest | None = None
    ) -> TimerOut:
        with ops_errors():
            row = await ops.retry(
                engine, timer_id, actor=who.name, reason=body.reason if body else None
            )
        return TimerOut.model_validate(row)

    @router.post(
        "/{timer_id}/cancel",
        summary="The timer never fires (a reason is required)",
        responses=responses(409),
    )
    async def cancel(who: Admin, engine: Engine, timer_id: Int64, body: DiscardRequest) -> TimerOut:
        with ops_errors():
            row = await ops.cancel(engine, timer_id, actor=who.name, reason=body.reason)
        return TimerOut.model_validate(row)

    return router
