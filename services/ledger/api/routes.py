"""Thin HTTP entry points: the ledger (JSON, CSV, spreadsheet, print), month-end lists,
summaries, internal reviews. Every route needs a staff credential."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from services.ledger import reviews, usecases
from services.ledger.api import exports
from services.ledger.api.schemas import (
    ActionDoneBody,
    LedgerPage,
    ReviewBody,
    ReviewOut,
    SummaryIn,
)
from services.ledger.deps import Deps
from services.ledger.domain.columns import flat
from services.ledger.domain.periods import midnight, parse_month
from services.ledger.domain.review import is_overdue, report_state
from services.ledger.store.repository import LedgerFilter
from shared.web.errors import field_error
from shared.web.ops_auth import Principal, Role, require
from shared.web.pagination import cursor_param, encode_cursor
from shared.web.types import on_calendar

router = APIRouter()


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


def get_sessions(request: Request) -> usecases.Sessions:
    return request.app.state.runtime.sessions


DepsDep = Annotated[Deps, Depends(get_deps)]
SessionsDep = Annotated[usecases.Sessions, Depends(get_sessions)]
Agent = Annotated[Principal, require(Role.AGENT)]
Supervisor = Annotated[Principal, require(Role.SUPERVISOR)]


def _instant(value: str | None, name: str, deps: Deps, day_after: bool) -> datetime | None:
    """A date (the site's midnight; ``to`` includes its day) or a date-time with offset."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            on_calendar(datetime.combine(day, datetime.min.time()))
            return midnight(day + timedelta(days=1) if day_after else day, deps.settings.zone)
        found = on_calendar(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        raise field_error(("query", name), "a date (2026-11-01) or a date-time", value) from None
    if found.tzinfo is None:
        raise field_error(("query", name), "a date-time needs its offset (+08:00, Z)", value)
    return found.astimezone(UTC)


def ledger_filter(
    deps: DepsDep,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[
        str | None, Query(pattern="^(open|resolved|closed|suspended|rejected)$")
    ] = None,
) -> LedgerFilter:
    """``from``/``to``: registration time; a date means the site's whole day (``to``
    included)."""
    return LedgerFilter(
        received_from=_instant(from_, "from", deps, day_after=False),
        received_to=_instant(to, "to", deps, day_after=True),
        site=site,
        category=category,
        team=team,
        status=status,
    )


FilterDep = Annotated[LedgerFilter, Depends(ledger_filter)]


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@router.get("/ledger", response_model=LedgerPage, tags=["ledger"])
async def ledger(
    _: Agent,
    deps: DepsDep,
    sessions: SessionsDep,
    where: FilterDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LedgerPage:
    """The ledger, oldest registration first: every complaint's registration, acceptance,
    investigation, plan, result, satisfaction and who handled each step."""
    after = cursor_param(cursor, datetime.fromisoformat, uuid.UUID)
    limit = min(limit, deps.settings.max_page)
    found = await usecases.ledger_page(sessions, where, limit, after)  # type: ignore[arg-type]
    next_cursor = None
    if len(found) == limit:
        next_cursor = encode_cursor(found[-1].received_at, found[-1].complaint_id)
    return LedgerPage(items=[_json(flat(e)) for e in found], next_cursor=next_cursor)


async def _rows(sessions: usecases.Sessions, where: LedgerFilter, most: int) -> list[dict]:
    return [flat(e) async for e in usecases.ledger_all(sessions, where, most)]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@router.get("/ledger.csv", tags=["ledger"], response_class=StreamingResponse)
async def ledger_csv(
    _: Agent, deps: DepsDep, sessions: SessionsDep, where: FilterDep
) -> StreamingResponse:
    rows = await _rows(sessions, where, deps.settings.max_export_rows)
    return StreamingResponse(
        exports.csv_lines(rows, deps.settings.zone),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ledger-{_stamp()}.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/ledger.xlsx", tags=["ledger"], response_class=Response)
async def ledger_xlsx(_: Agent, deps: DepsDep, sessions: SessionsDep, where: FilterDep) -> Response:
    rows = await _rows(sessions, where, deps.settings.max_export_rows)
    # Building the workbook is CPU work: off the event loop.
    body = await asyncio.to_thread(exports.xlsx, rows, deps.settings.zone, "Complaint ledger")
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="ledger-{_stamp()}.xlsx"'},
    )


PRINT_ROWS = 2000


@router.get("/ledger/print", response_class=HTMLResponse, tags=["ledger"])
async def ledger_print(
    _: Agent, deps: DepsDep, sessions: SessionsDep, where: FilterDep, request: Request
) -> HTMLResponse:
    """The ledger as a page for the printer (A4 landscape)."""
    rows = await _rows(sessions, where, PRINT_ROWS + 1)
    zone = deps.settings.zone
    scope = ", ".join(f"{k}={v}" for k, v in request.query_params.items()) or "all complaints"
    html = exports.render(
        "ledger.html",
        rows=[exports.local(r, zone) for r in rows[:PRINT_ROWS]],
        truncated=len(rows) > PRINT_ROWS,
        scope=scope,
        zone=zone.key,
        printed=datetime.now(zone).isoformat(timespec="minutes"),
    )
    return HTMLResponse(html)


@router.get("/ledger/{complaint_id}", tags=["ledger"])
async def ledger_entry(_: Agent, sessions: SessionsDep, complaint_id: uuid.UUID) -> dict:
    found = await usecases.entry(sessions, complaint_id)
    if found is None:
        raise HTTPException(404, "no such complaint in the ledger")
    return _json(flat(found))


# ---- month end ----------------------------------------------------------------------------


@router.get("/month-end/{month}", tags=["month end"])
async def month_end(
    _: Agent,
    sessions: SessionsDep,
    month: Annotated[str, Path(max_length=7, description="YYYY-MM")],
) -> dict:
    """The complaints flagged unresolved at the end of ``month`` (404 until it has ended)."""
    try:
        parse_month(month)
    except ValueError as exc:
        raise field_error(("path", "month"), str(exc), month) from None
    found = await usecases.month_end(sessions, month)
    if found is None:
        raise HTTPException(404, "this month has not been flagged (it has not ended yet)")
    return found


# ---- summaries ----------------------------------------------------------------------------


@router.post("/summaries", status_code=201, tags=["summaries"])
async def make_summary(
    body: SummaryIn, who: Supervisor, deps: DepsDep, sessions: SessionsDep
) -> dict:
    """A summary on demand, of the period containing ``start``; published and kept."""
    return await usecases.summarise(sessions, deps, body.period, body.start, who.name)


@router.get("/summaries", tags=["summaries"])
async def list_summaries(
    _: Agent,
    sessions: SessionsDep,
    period: Annotated[str | None, Query(pattern="^(week|month|quarter|half_year)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict]:
    return await usecases.summaries(sessions, period, limit)


async def _summary(sessions: usecases.Sessions, summary_id: uuid.UUID) -> dict:
    found = await usecases.summary(sessions, summary_id)
    if found is None:
        raise HTTPException(404, "no such summary")
    return found


@router.get("/summaries/{summary_id}", tags=["summaries"])
async def get_summary(_: Agent, sessions: SessionsDep, summary_id: uuid.UUID) -> dict:
    return await _summary(sessions, summary_id)


@router.get("/summaries/{summary_id}/print", response_class=HTMLResponse, tags=["summaries"])
async def print_summary(_: Agent, sessions: SessionsDep, summary_id: uuid.UUID) -> HTMLResponse:
    return HTMLResponse(exports.render("summary.html", s=await _summary(sessions, summary_id)))


# ---- reviews ------------------------------------------------------------------------------


_DERIVED = {"report_state", "overdue", "actions"}


def _review_out(review: dict[str, Any]) -> ReviewOut:
    now = datetime.now(UTC)
    state = report_state(review["report_due_at"], review["recorded_at"],
                         review["went_overdue_at"])  # fmt: skip
    return ReviewOut(
        **{k: review[k] for k in ReviewOut.model_fields if k in review and k not in _DERIVED},
        report_state=state.value,
        overdue=is_overdue(review["report_due_at"], review["recorded_at"], now),
        actions=review.get("actions", []),
    )


@router.post("/reviews/{complaint_id}", status_code=201, response_model=ReviewOut,
             tags=["reviews"])  # fmt: skip
async def record_review(
    complaint_id: uuid.UUID, body: ReviewBody, who: Agent, deps: DepsDep, sessions: SessionsDep
) -> ReviewOut:
    """The team's report back after handling: root cause (a code of the taxonomy), corrective
    and preventive actions with their owners and due times."""
    wanted = reviews.ReviewIn(
        root_cause=body.root_cause,
        summary=body.summary,
        actions=[reviews.ActionIn(a.kind, a.description, a.owner, a.due_at) for a in body.actions],
    )
    try:
        found = await usecases.record_review(
            sessions, deps, complaint_id, wanted, who.name, getattr(who, "display_name", None)
        )
    except reviews.Invalid as exc:
        raise field_error(exc.field, exc.message, exc.value) from None
    except reviews.NotFound:
        raise HTTPException(404, "no such complaint in the ledger") from None
    except reviews.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return _review_out(found)


@router.get("/reviews", response_model=list[ReviewOut], tags=["reviews"])
async def list_reviews(
    _: Agent,
    sessions: SessionsDep,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewOut]:
    """Report-back clocks by due time; ``overdue=true``: those that ran out (unreported, or
    reported late)."""
    return [_review_out(r | {"actions": []}) for r in
            await usecases.review_list(sessions, overdue, limit)]  # fmt: skip


@router.get("/reviews/{complaint_id}", response_model=ReviewOut, tags=["reviews"])
async def get_review(_: Agent, sessions: SessionsDep, complaint_id: uuid.UUID) -> ReviewOut:
    try:
        return _review_out(await usecases.review(sessions, complaint_id))
    except reviews.NotFound:
        raise HTTPException(404, "no review or report clock for this complaint") from None


@router.post("/reviews/{complaint_id}/actions/{action_id}/done", response_model=ReviewOut,
             tags=["reviews"])  # fmt: skip
async def action_done(
    complaint_id: uuid.UUID,
    action_id: uuid.UUID,
    body: ActionDoneBody,
    who: Agent,
    sessions: SessionsDep,
) -> ReviewOut:
    try:
        found = await usecases.complete_action(
            sessions, complaint_id, action_id, who.name, body.note
        )
    except reviews.NotFound:
        raise HTTPException(404, "no such action of this complaint") from None
    except reviews.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return _review_out(found)
