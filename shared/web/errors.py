"""Error mapping: an unreachable database is a 503 (retry later), never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from shared.db import is_unavailable

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):
            log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc)})
            return JSONResponse(
                {"detail": "the database is unavailable; nothing was recorded, please retry"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        log.exception("database error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error"}, status_code=500)

    for exc_type in (SQLAlchemyError, OSError, TimeoutError):
        app.add_exception_handler(exc_type, database_error)


def field_error(loc: tuple[str | int, ...], message: str, value: object) -> RequestValidationError:
    """A 422 naming the field, in FastAPI's own error shape: ``("body", "category")``."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )
