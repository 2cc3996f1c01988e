"""Set-based statements: many rows sent as one array per column and expanded with
``unnest``, so one statement (one round trip, one execution) writes them all and its SQL is
the same for any number of rows (prepared once per connection)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()


def pg_type(column: sa.Column) -> str:
    """The column's type as PostgreSQL spells it (an array of it is ``<type>[]``)."""
    return column.type.compile(dialect=_DIALECT)


def unnest(columns: Sequence[tuple[str, str]]) -> str:
    """``unnest(CAST(:<param> AS <type>[]), ...)`` over (parameter name, type) pairs: rows in
    the order of the arrays."""
    return "unnest(" + ", ".join(f"CAST(:{p} AS {t}[])" for p, t in columns) + ")"


def columns_of(rows: Iterable[Sequence[Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Rows (tuples in the order of ``names``) as one list per parameter name."""
    found = list(rows)
    if not found:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*found, strict=True)), strict=True))
