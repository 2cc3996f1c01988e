"""Error mapping: an unreachable database is a 503 (retry later), never a 500; a validation
error is a 422 naming the field that always renders, whatever the input was."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from asyncpg import InterfaceError, PostgresError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from shared.db import is_unavailable

log = logging.getLogger(__name__)

MAX_ERRORS = 20  # a body with thousands of bad items gets the first few named
MAX_TEXT = 300  # characters of a message or a location part echoed back


class ErrorBody(BaseModel):
    """Every 4xx/5xx other than 422: what went wrong, in words."""

    detail: str


class FieldProblem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorBody(BaseModel):
    """A 422: each problem names its field (``["body", "customer", "phone"]``). The input is
    never echoed: it may be what made rendering fail (NaN, a lone surrogate) or personal."""

    detail: list[FieldProblem]


def install_error_handlers(app: FastAPI) -> None:
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):
            log.warning(
                "database unavailable",
                extra={"path": request.url.path, "error": type(exc).__name__},
            )
            return JSONResponse(
                {"detail": "the database is unavailable; nothing was recorded, please retry"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        log.exception("database error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error"}, status_code=500)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": safe_problems(exc.errors())}, status_code=422)

    for exc_type in (SQLAlchemyError, OSError, TimeoutError, PostgresError, InterfaceError):
        app.add_exception_handler(exc_type, database_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def safe_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's error list without ``input``/``ctx``, every text valid UTF-8 and bounded, so
    the 422 itself cannot fail to render."""
    return [
        {
            "type": safe_text(str(e.get("type", "value_error"))),
            "loc": [p if isinstance(p, int) else safe_text(str(p)) for p in e.get("loc", ())],
            "msg": safe_text(str(e.get("msg", ""))),
        }
        for e in list(errors)[:MAX_ERRORS]
    ]


def safe_text(text: str) -> str:
    """``text`` bounded, lone surrogates and NULs replaced (U+FFFD)."""
    return "".join(
        "\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text[:MAX_TEXT]
    )


def field_error(loc: tuple[str | int, ...], message: str, value: object) -> RequestValidationError:
    """A 422 naming the field, in FastAPI's own error shape: ``("body", "category")``.
    ``value`` is kept for logs and tests; the 422 body never echoes it."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )
