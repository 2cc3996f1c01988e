"""Keyset pagination cursors: the sort key of the last row, opaque to clients.

A cursor comes back from the client, so it is input like any other: its parts are read with
the same bounds as the service's own parameters (a date-time on the calendar the database
can hold, an integer within 64 bits), and anything else is a 422 naming ``cursor``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.web.errors import field_error
from shared.web.types import INT64_MAX, INT64_MIN, on_calendar


def encode_cursor(*parts: object) -> str:
    raw = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def read_datetime(text: str) -> datetime:
    """An ISO date-time with a time zone, years MIN_YEAR..MAX_YEAR (see shared.web.types)."""
    value = on_calendar(datetime.fromisoformat(text))
    if value.tzinfo is None:
        raise ValueError("a cursor's time has a time zone")
    return value


def read_int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("beyond 64 bits")
    return value


# The plain readers callers name, read with bounds: datetime.fromisoformat takes year 1 with
# an offset (which overflows converted to UTC), int any size (which the database refuses).
_BOUNDED: dict[Callable[[str], Any], Callable[[str], Any]] = {
    datetime.fromisoformat: read_datetime,
    int: read_int64,
}


def decode_cursor(cursor: str, *types: Callable[[str], Any]) -> tuple[Any, ...]:
    """The parts of ``cursor``, each read by its type (``datetime.fromisoformat``,
    ``uuid.UUID``, ``int``...). Raises ValueError on a cursor this service did not make."""
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if len(parts) != len(types):
            raise ValueError("wrong number of parts")
        return tuple(
            _BOUNDED.get(read, read)(part) for read, part in zip(types, parts, strict=True)
        )
    except (UnicodeError, binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise ValueError("not a valid cursor") from exc


def cursor_param(cursor: str | None, *types: Callable[[str], Any]) -> tuple[Any, ...] | None:
    """Decode a ``?cursor=`` query parameter, or answer 422 naming it."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, *types)
    except ValueError:
        raise field_error(("query", "cursor"), "not a valid cursor", cursor) from None
