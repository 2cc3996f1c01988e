"""Operations on personal data: erasure of one customer's data across every service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel

from services.intake import erasure
from shared.web.ops_auth import Principal, Role, require

router = APIRouter(tags=["personal data"])


class ErasureStarted(BaseModel):
    erasure_id: uuid.UUID
    complaints: int  # the customer's complaints anonymised here; the other services follow


@router.post(
    "/customers/{customer_id}/erase",
    status_code=202,
    response_model=ErasureStarted,
)
async def erase_customer(
    customer_id: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    _: Annotated[Principal, require(Role.ADMIN)],
) -> ErasureStarted:
    """Erase the customer's personal data: intake's copy at once, every other service's as it
    consumes ``customer.erasure_requested`` (each confirms with ``customer.erased``). Figures
    and the anonymous history stay. Asking again is harmless."""
    runtime = request.app.state.runtime
    done = await erasure.erase_customer(runtime.sessions, runtime.topics, customer_id)
    return ErasureStarted(erasure_id=done.erasure_id, complaints=done.complaints)


class ErasureView(BaseModel):
    erasure_id: uuid.UUID
    reason: str
    requested_at: datetime
    complaints: int
    requests: int  # per service: one per complaint (+ one for the customer's own records)
    confirmed: dict[str, int]
    pending: list[str]  # services that have not confirmed every request yet
    complete: bool


@router.get("/erasures/{erasure_id}", response_model=ErasureView)
async def get_erasure(
    erasure_id: uuid.UUID, request: Request, _: Annotated[Principal, require(Role.ADMIN)]
) -> ErasureView:
    """How far an erasure got: which services confirmed it (``customer.erased``)."""
    state = request.app.state
    found = await erasure.progress(
        state.runtime.sessions, erasure_id, state.settings.erasure_services
    )
    if found is None:
        raise HTTPException(404, "no such erasure")
    return ErasureView(
        erasure_id=found.erasure_id,
        reason=found.reason,
        requested_at=found.requested_at,
        complaints=found.complaints,
        requests=found.requests,
        confirmed=found.confirmed,
        pending=found.pending,
        complete=not found.pending,
    )
