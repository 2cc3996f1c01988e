"""What the admin routers share: the admin credential, the service's engine, the mapping of
operators' errors to HTTP answers, and the bodies of retry/discard requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, StringConstraints
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.ops import Conflict, NotFound
from shared.web.ops_auth import Principal, Role, require

Admin = Annotated[Principal, require(Role.ADMIN)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


async def _engine(request: Request) -> AsyncEngine:
    return request.app.state.runtime.engine


Engine = Annotated[AsyncEngine, Depends(_engine)]


class RetryRequest(BaseModel):
    reason: Reason | None = None


class DiscardRequest(BaseModel):
    reason: Reason  # required: the audit trail says why an event was given up


@contextmanager
def ops_errors() -> Iterator[None]:
    """NotFound is a 404, Conflict (wrong state for the operation) a 409."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
