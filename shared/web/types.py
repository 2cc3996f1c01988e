"""Validated input types every service's API uses for dates, times and row ids.

pydantic's lax parsing reads ``0.5`` (or the string ``"0.5"``) as a Unix time and takes any
year from 1 to 9999; a year-9999 time with an offset then overflows when converted to UTC,
and ``to - 30 days`` overflows at year 1. These types take only ISO 8601 text and only years
MIN_YEAR..MAX_YEAR, so arithmetic of up to a year either way stays on the calendar."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, BeforeValidator

MIN_YEAR, MAX_YEAR = 1970, 9998
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int64 = Annotated[int, annotated_types.Interval(ge=INT64_MIN, le=INT64_MAX)]
"""An integer the database's bigint holds (a row id in a path, say): beyond it, 422."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text(pattern: re.Pattern[str], example: str, kinds: tuple[type, ...]):
    def check(value: Any) -> Any:
        if isinstance(value, kinds):  # from Python code, already a date
            return value
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be an ISO 8601 text such as {example}")
        return value

    return check


def _on_calendar(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_iso_text(_ISO_DATETIME, "2026-11-25T09:30:00+08:00", (datetime,))),
    AfterValidator(_on_calendar),
]
"""A date-time as ISO 8601 text (``2026-11-25T09:30:00+08:00``), years MIN_YEAR..MAX_YEAR."""

IsoDate = Annotated[
    date,
    BeforeValidator(_iso_text(_ISO_DATE, "2026-11-25", (date,))),
    AfterValidator(_on_calendar),
]
"""A calendar date as ISO 8601 text (``2026-11-25``), years MIN_YEAR..MAX_YEAR."""


def on_calendar(value: datetime) -> datetime:
    """``value`` if its year is in MIN_YEAR..MAX_YEAR, else ValueError (for values read
    elsewhere than a model field, such as inside a cursor)."""
    _on_calendar(value)
    return value
