"""The ledger and the summaries as downloads and printable pages: CSV, a spreadsheet
(openpyxl, write-only) and HTML for the printer (Jinja2, print CSS, nothing from a CDN).
Times are shown in the site's time zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook

from services.ledger.domain.columns import COLUMNS, text

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def local(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {k: v.astimezone(zone) if isinstance(v, datetime) else v for k, v in row.items()}


def csv_lines(rows: Iterable[dict[str, Any]], zone: ZoneInfo) -> Iterable[str]:
    """The header, then a line per row (for a streaming response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take(cells: list[str]) -> str:
        writer.writerow(cells)
        line = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return line

    yield "\ufeff" + take([header for _, header in COLUMNS])  # BOM: spreadsheets read UTF-8
    for row in rows:
        shown = local(row, zone)
        yield take([text(shown[key]) for key, _ in COLUMNS])


def xlsx(rows: Iterable[dict[str, Any]], zone: ZoneInfo, title: str) -> bytes:
    """A workbook with the ledger sheet; times as spreadsheet dates in the site's zone (a
    spreadsheet has no time zones: the header names it)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Ledger")
    sheet.freeze_panes = "B2"
    headers = [header for _, header in COLUMNS]
    sheet.append([f"{h} ({zone.key})" if h.endswith(" at") else h for h in headers])
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row[key]
            if isinstance(value, datetime):
                value = value.astimezone(zone).replace(tzinfo=None)
            cells.append(value)
        sheet.append(cells)
    book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(text=text, **context)
