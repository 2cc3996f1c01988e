"""The operators' list of incomplete complaints (awaiting the customer's contact data)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.intake import chase
from services.intake.api.schemas import IncompleteComplaint, IncompletePage
from shared.web.ops_auth import Principal, Role, require
from shared.web.pagination import cursor_param

router = APIRouter()


@router.get(
    "/incomplete-complaints",
    response_model=IncompletePage,
    tags=["operations"],
)
async def incomplete_complaints(
    request: Request,
    who: Annotated[Principal, require(Role.SUPERVISOR)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> IncompletePage:
    """Complaints awaiting the customer's contact data, oldest first, with the reminders
    sent and when the next one goes and when the complaint is closed as unreachable."""
    after = cursor_param(cursor, datetime.fromisoformat, uuid.UUID)
    rows, next_cursor = await chase.awaiting_information(
        request.app.state.runtime.sessions, after, limit
    )
    items = [IncompleteComplaint(complaint_id=r.pop("id"), **r) for r in rows]
    return IncompletePage(items=items, next_cursor=next_cursor)
