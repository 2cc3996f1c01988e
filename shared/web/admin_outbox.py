"""``/admin/outbox``: outbox rows the relay parked (they cannot be published), shown with
their error, retried after the cause is fixed, or discarded with a reason. Admin role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from shared.ops import outbox as ops
from shared.ops.outbox import OutboxStatus
from shared.web.admin_deps import Admin, DiscardRequest, Engine, RetryRequest, ops_errors
from shared.web.openapi import responses
from shared.web.pagination import cursor_param, encode_cursor
from shared.web.types import Int64


class OutboxRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: uuid.UUID
    topic: str
    key: str
    event_type: str
    status: OutboxStatus
    created_at: datetime
    attempts: int
    last_error: str | None
    parked_at: datetime | None
    sent_at: datetime | None
    discarded_at: datetime | None


class AuditLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    reason: str | None


class OutboxRowDetailOut(BaseModel):
    row: OutboxRowOut
    payload_bytes: int
    payload_preview: str
    held_back: int
    audit: list[AuditLineOut]


class OutboxPage(BaseModel):
    items: list[OutboxRowOut]
    next_cursor: str | None


def admin_outbox_router() -> APIRouter:
    router = APIRouter(prefix="/admin/outbox", tags=["admin"])

    @router.get("", summary="Outbox rows by status (parked by default), oldest first")
    async def list_rows(
        _: Admin,
        engine: Engine,
        status: OutboxStatus = OutboxStatus.PARKED,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> OutboxPage:
        after = cursor_param(cursor, int)
        rows = await ops.list_rows(engine, status, after=after[0] if after else None, limit=limit)
        return OutboxPage(
            items=[OutboxRowOut.model_validate(r) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if len(rows) == limit else None,
        )

    @router.get("/{row_id}", summary="One outbox row with its error, payload and audit trail")
    async def show(_: Admin, engine: Engine, row_id: Int64) -> OutboxRowDetailOut:
        with ops_errors():
            found = await ops.get_row(engine, row_id)
        return OutboxRowDetailOut(
            row=OutboxRowOut.model_validate(found.row),
            payload_bytes=found.payload_bytes,
            payload_preview=found.payload_preview,
            held_back=found.held_back,
            audit=[AuditLineOut.model_validate(a) for a in found.audit],
        )

    @router.post(
        "/{row_id}/retry",
        summary="Un-park the row: the relay publishes it again",
        responses=responses(409),
    )
    async def retry(
        who: Admin, engine: Engine, row_id: Int64, body: RetryRequest | None = None
    ) -> OutboxRowOut:
        with ops_errors():
            row = await ops.retry(
                engine, row_id, actor=who.name, reason=body.reason if body else None
            )
        return OutboxRowOut.model_validate(row)

    @router.post(
        "/{row_id}/discard",
        summary="Give up on the parked row (a reason is required)",
        responses=responses(409),
    )
    async def discard(
        who: Admin, engine: Engine, row_id: Int64, body: DiscardRequest
    ) -> OutboxRowOut:
        with ops_errors():
            row = await ops.discard(engine, row_id, actor=who.name, reason=body.reason)
        return OutboxRowOut.model_validate(row)

    return router
