"""Thin HTTP entry points: answers (customer by token, agent by ops token) and reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from services.satisfaction import reports, usecases
from services.satisfaction.api import dashboard
from services.satisfaction.api.schemas import (
    AgentAnswerIn,
    AnswerIn,
    FirstAnswerOut,
    Recorded,
    SurveyOut,
)
from services.satisfaction.domain.levels import clean_factors, parse_level
from services.satisfaction.domain.surveys import AlreadyAnswered, Expired
from shared.web.errors import field_error
from shared.web.openapi import responses
from shared.web.ops_auth import Principal, Role, require
from shared.web.types import IsoDate

router = APIRouter()

GroupBy = Literal["channel", "category", "severity", "tier", "escalation_level"]


invalid = field_error


def _answer(body: AnswerIn, request: Request, taken_by: str) -> usecases.AnswerIn:
    settings = request.app.state.settings
    try:
        level = parse_level(body.level)
    except ValueError as exc:
        raise invalid(("body", "level"), str(exc), body.level) from None
    try:
        factors = clean_factors(body.factors, settings.factors)
    except ValueError as exc:
        raise invalid(("body", "factors"), str(exc), body.factors) from None
    comment = (body.comment or "").strip() or None
    if comment is not None and len(comment) > settings.max_comment_chars:
        raise invalid(
            ("body", "comment"), f"at most {settings.max_comment_chars} characters", len(comment)
        )
    return usecases.AnswerIn(level, factors, comment, taken_by)


def _valid_for(request: Request) -> timedelta:
    return timedelta(seconds=request.app.state.settings.survey_valid_seconds)


async def _record(request: Request, answer: usecases.AnswerIn, **where: Any) -> Recorded:
    state = request.app.state
    try:
        answer_id, data = await usecases.record_answer(
            state.runtime.sessions,
            state.runtime.topics,
            answer,
            valid_for=_valid_for(request),
            **where,
        )
    except usecases.NotFound:
        raise HTTPException(404, "no such survey or complaint") from None
    except AlreadyAnswered as exc:
        raise HTTPException(409, _already_answered(exc)) from None
    except Expired:
        raise HTTPException(410, "this survey has expired") from None
    except usecases.WrongComplaint:
        raise invalid(("body", "survey_token"), "belongs to another complaint", None) from None
    return Recorded(
        answer_id=answer_id,
        complaint_id=data.complaint_id,
        cycle=data.cycle,
        level=data.level.value,
        score=data.score,
        factors=data.factors,
        taken_by=data.taken_by,
        message="Thank you for your answer.",
    )


def _already_answered(exc: AlreadyAnswered) -> dict[str, Any]:
    """The 409 names the answer that already measures the cycle: its id and when."""
    first = exc.first
    return {
        "message": "this complaint's resolution cycle already has its answer",
        "first_answer": None
        if first is None
        else FirstAnswerOut(
            answer_id=first.answer_id, cycle=first.cycle, recorded_at=first.recorded_at
        ).model_dump(mode="json"),
    }


@router.get(
    "/surveys/{token}",
    response_model=SurveyOut,
    tags=["surveys"],
    responses={404: {}, 422: {}, 503: {}},
)
async def show_survey(token: Annotated[str, Path(max_length=200)], request: Request) -> SurveyOut:
    """For the survey page: whether the survey is open, answered or expired. The token is
    the only credential; nothing personal is shown."""
    try:
        view = await usecases.survey_status(
            request.app.state.runtime.sessions, token, _valid_for(request)
        )
    except usecases.NotFound:
        raise HTTPException(404, "no such survey") from None
    return SurveyOut(
        status=view.status.value,
        cycle=view.cycle,
        expires_at=view.expires_at,
        answered_at=view.answered_at,
    )


@router.post(
    "/surveys/{token}",
    status_code=201,
    response_model=Recorded,
    tags=["surveys"],
    responses=responses(409, 410),
)
async def answer_survey(
    token: Annotated[str, Path(max_length=200)], body: AnswerIn, request: Request
) -> Recorded:
    """The customer's answer. The single-use token is the only credential (looked up by its
    hash: the store has nothing else). 409 names the answer the cycle already has."""
    return await _record(request, _answer(body, request, "customer"), token=token)


@router.post(
    "/surveys",
    status_code=201,
    response_model=Recorded,
    tags=["surveys"],
    responses=responses(404, 409, 410),
)
async def record_by_agent(
    body: AgentAnswerIn, request: Request, who: Annotated[Principal, require(Role.AGENT)]
) -> Recorded:
    """An answer an agent took by phone; uses up the complaint's open survey, if any. One
    answer per complaint and resolution cycle, whoever records it: 409 names the first."""
    answer = _answer(body, request, who.name)
    if body.survey_token:
        return await _record(
            request, answer, token=body.survey_token, complaint_id=body.complaint_id
        )
    return await _record(request, answer, complaint_id=body.complaint_id)


def period(request: Request, start: date | None, end: date | None) -> tuple[date, date]:
    """Default: the last 30 days, today included. Both ends inclusive."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=29)
    if start > end:
        raise invalid(("query", "to"), "must not be before 'from'", str(end))
    if (end - start).days >= request.app.state.settings.max_report_days:
        raise invalid(
            ("query", "from"),
            f"a report covers at most {request.app.state.settings.max_report_days} days",
            str(start),
        )
    return start, end


FromQ = Annotated[IsoDate | None, Query(alias="from", description="First day (UTC), inclusive")]
ToQ = Annotated[IsoDate | None, Query(alias="to", description="Last day (UTC), inclusive")]


Staff = Annotated[Principal, require(Role.AGENT)]
Supervisor = Annotated[Principal, require(Role.SUPERVISOR)]
STAFF_ONLY: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 422: {}, 503: {}}


@router.get("/reports/summary", tags=["reports"], responses=STAFF_ONLY)
async def summary(
    request: Request,
    _: Staff,
    start: FromQ = None,
    end: ToQ = None,
    group_by: GroupBy | None = None,
) -> dict[str, Any]:
    start, end = period(request, start, end)
    async with request.app.state.runtime.sessions() as session:
        return await reports.summary_report(session, request.app.state.policy, start, end, group_by)


@router.get("/reports/trend", tags=["reports"], responses=STAFF_ONLY)
async def trend(
    request: Request,
    _: Staff,
    interval: reports.Interval = "day",
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, Any]:
    start, end = period(request, start, end)
    async with request.app.state.runtime.sessions() as session:
        return await reports.trend_report(session, request.app.state.policy, interval, start, end)


@router.get("/dashboard", response_class=HTMLResponse, tags=["reports"])
async def show_dashboard() -> HTMLResponse:
    """The dashboard's shell: no figures in it. Its script fetches ``/dashboard/view`` with
    the supervisor's bearer token (from the page's ``#token=`` fragment, which never reaches
    a server, or typed into its form) and shows what comes back."""
    return HTMLResponse(dashboard.SHELL)


@router.get("/dashboard/view", response_class=HTMLResponse, tags=["reports"], responses=STAFF_ONLY)
async def dashboard_view(
    request: Request, _: Supervisor, start: FromQ = None, end: ToQ = None
) -> HTMLResponse:
    """One page for the morning: charts drawn here as inline SVG, nothing fetched from
    elsewhere, so it works with no internet access."""
    start, end = period(request, start, end)
    policy = request.app.state.policy
    async with request.app.state.runtime.sessions() as session:
        overall = await reports.summary_report(session, policy, start, end, None)
        trend_data = await reports.trend_report(session, policy, "day", start, end)
        by = {
            dim: (await reports.summary_report(session, policy, start, end, dim, False))["groups"]
            for dim in ("channel", "category", "tier")
        }
    return HTMLResponse(dashboard.render(overall, trend_data, by, policy))


@router.get("/alerts", tags=["reports"], responses=STAFF_ONLY)
async def alerts(request: Request, _: Staff) -> dict[str, Any]:
    """The alert state per dimension value: which are below target now (alerted once)."""
    async with request.app.state.runtime.sessions() as session:
        return {"items": await reports.alert_states(session)}
