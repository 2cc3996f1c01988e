"""What a consumer does with a handler's exception: one rule for every service.

- ``UNAVAILABLE``: the database cannot be reached. Not the event's fault: wait, do not count.
- ``CONFLICT``: a deadlock or serialization failure (SQLSTATE 40P01, 40001). PostgreSQL
  chose this transaction as the victim; running it again succeeds. Retry, do not count.
- ``PERMANENT``: the event can never be processed (a malformed payload: validation, a
  missing key, a bad value or type while decoding). Park at once, no retries.
- ``FAILED``: anything else, including a statement timeout (57014, the handler's query was
  too slow): retried with backoff a bounded number of times, then parked.

Error messages leaving the process (dead-letter headers, the parked-events table, logs) are
redacted: the exception's type and what went wrong, never the input values."""

from __future__ import annotations

import json
import re
import traceback
from enum import StrEnum

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from shared.db import is_unavailable
from shared.logs import redact

CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
STATEMENT_TIMEOUT = "57014"  # query_canceled: statement_timeout (or a cancel request)


class Failure(StrEnum):
    UNAVAILABLE = "unavailable"
    CONFLICT = "conflict"
    PERMANENT = "permanent"
    FAILED = "failed"


class PoisonEvent(Exception):
    """A record that can never be processed (no value, not a CloudEvent): park at once."""


# Raised by handlers decoding a payload: the same payload fails the same way every time.
_PERMANENT_TYPES = (PoisonEvent, ValidationError, KeyError, ValueError, TypeError)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (SQLAlchemy wrapping asyncpg), if any."""
    if isinstance(exc, DBAPIError):
        found = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if found is None and exc.orig is not None:
            found = getattr(exc.orig.__cause__, "sqlstate", None)
        return found
    return getattr(exc, "sqlstate", None)


def classify(exc: BaseException) -> Failure:
    state = sqlstate(exc)
    if state in CONFLICT_SQLSTATES:
        return Failure.CONFLICT
    if state == STATEMENT_TIMEOUT:
        return Failure.FAILED
    if is_unavailable(exc):
        return Failure.UNAVAILABLE
    # Database errors are DBAPIError, never these plain types: a ValueError here comes
    # from decoding the payload, not from a query.
    if isinstance(exc, _PERMANENT_TYPES):
        return Failure.PERMANENT
    return Failure.FAILED


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def redacted_message(exc: BaseException, limit: int = 500) -> str:
    """What went wrong, without the values that caused it."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        text = f"{exc.error_count()} validation error(s): " + "; ".join(problems)
    elif isinstance(exc, KeyError):
        # The missing key is a field name from the code, not an input value.
        key = exc.args[0] if exc.args else None
        named = isinstance(key, str) and key.isidentifier()
        text = f"missing key {key!r}" if named else "missing key"
    elif isinstance(exc, DBAPIError):
        # str() of a database error carries the statement and its parameters.
        text = f"database error {error_type(exc)} (SQLSTATE {sqlstate(exc) or '?'})"
    elif isinstance(exc, json.JSONDecodeError):
        text = f"not JSON: {exc.msg} at position {exc.pos}"
    else:
        text = _QUOTED.sub("'…'", str(exc))
    return redact(text)[:limit]


def error_type(exc: BaseException) -> str:
    """The exception's type; for a database error, the driver's (``QueryCanceledError``,
    ``DeadlockDetectedError``), which says more than SQLAlchemy's wrapper."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        driver = exc.orig.__cause__ or exc.orig  # SQLAlchemy's adapter wraps asyncpg's
        return type(driver).__name__
    return type(exc).__name__


def redacted_trace(exc: BaseException, limit: int = 4000) -> str:
    """Where it failed: the stack's frames (files, lines, code), without the message."""
    return "".join(traceback.format_tb(exc.__traceback__))[-limit:]
