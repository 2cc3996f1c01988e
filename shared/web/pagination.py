"""Keyset pagination cursors: the sort key of the last row, opaque to clients."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.web.errors import field_error


def encode_cursor(*parts: object) -> str:
    raw = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, *types: Callable[[str], Any]) -> tuple[Any, ...]:
    """The parts of ``cursor``, each read by its type (``datetime.fromisoformat``,
    ``uuid.UUID``, ``int``...). Raises ValueError on a cursor this service did not make."""
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if len(parts) != len(types):
            raise ValueError("wrong number of parts")
        return tuple(read(part) for read, part in zip(types, parts, strict=True))
    except (UnicodeDecodeError, binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("not a valid cursor") from exc


def cursor_param(cursor: str | None, *types: Callable[[str], Any]) -> tuple[Any, ...] | None:
    """Decode a ``?cursor=`` query parameter, or answer 422 naming it."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, *types)
    except ValueError:
        raise field_error(("query", "cursor"), "not a valid cursor", cursor) from None
