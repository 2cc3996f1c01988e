"""Staff pages: My work, a case and its actions, the overview (sign-in: ``signin.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import usecases
from services.console.api.i18n import LANGUAGES
from services.console.api.pages import render
from services.console.api.security import check_csrf
from services.console.domain.actions import offered
from services.console.domain.staff import StaffMember
from services.console.domain.work import QueueFilters
from services.console.settings import ConsoleSettings
from services.console.store.platform import ApiError, Platform

router = APIRouter()
LEVELS = (
    "frontline",
    "team_lead",
    "supervisor",
    "customer_relations",
    "department_manager",
    "executive_office",
)
STATUSES = (
    "awaiting_information",
    "open",
    "acknowledged",
    "investigating",
    "plan_recorded",
    "paused",
    "resolved",
    "reopened",
    "suspended",
    "closed",
)


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def _settings(request: Request) -> ConsoleSettings:
    return request.app.state.settings


def _platform(request: Request) -> Platform:
    return request.app.state.platform


def _person(request: Request) -> StaffMember:
    raw = request.session.get("staff")
    if not raw or not request.session.get("token"):
        raise SignInRequired(request.url.path)
    return StaffMember.from_session(raw)


Settings = Annotated[ConsoleSettings, Depends(_settings)]
Services = Annotated[Platform, Depends(_platform)]
Person = Annotated[StaffMember, Depends(_person)]


def _token(request: Request) -> str:
    return request.session["token"]


async def _form(request: Request) -> dict[str, str]:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form)
    return form


Form = Annotated[dict[str, str], Depends(_form)]


def _signed_out(request: Request) -> RedirectResponse:
    """A token the services no longer accept (expired, withdrawn): sign in again."""
    request.session.pop("token", None)
    request.session.pop("staff", None)
    return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    return RedirectResponse("/work" if request.session.get("staff") else "/signin", 303)


def _local(next_url: str) -> str:
    """Only a path of this site (no open redirect)."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/work"


@router.post("/language")
async def language(request: Request, form: Form) -> Response:
    chosen = form.get("lang", "")
    if chosen in LANGUAGES:
        request.session["lang"] = chosen
    return RedirectResponse(_local(form.get("next", "/")), status_code=303)


@router.get("/work", response_class=HTMLResponse)
async def my_work(
    request: Request, person: Person, services: Services, settings: Settings
) -> Response:
    filters = QueueFilters.parse(dict(request.query_params))
    try:
        work = await usecases.my_work(services, _token(request), filters)
    except ApiError as exc:  # pragma: no cover - gather returns them
        work = usecases.MyWork([], [], [str(exc)])
    if any(p.startswith("401") for p in work.problems):
        return _signed_out(request)
    now = datetime.now(UTC)
    return render(
        request,
        "work.html",
        person=person,
        work=work,
        filters=filters,
        now=now,
        urgency={c.complaint_id: c.urgency(now, settings.warn_seconds) for c in work.cases},
        warn_seconds=settings.warn_seconds,
        levels=LEVELS,
        statuses=STATUSES,
    )


@router.get("/cases/{complaint_id}", response_class=HTMLResponse)
async def case(request: Request, complaint_id: str, person: Person, services: Services) -> Response:
    done = request.query_params.get("done")
    return await _case_page(request, complaint_id, person, services, done=done)


async def _case_page(
    request: Request,
    complaint_id: str,
    person: StaffMember,
    services: Platform,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        page = await usecases.case_page(services, _token(request), complaint_id)
    except ApiError as exc:
        if exc.status == 401:
            return _signed_out(request)
        return render(
            request, "error.html", exc.status if exc.status < 500 else 502, message=exc.message
        )
    return render(
        request,
        "case.html",
        status_code,
        person=person,
        page=page,
        actions=offered(person),
        error=error,
        done=done,
        departments=[t for t in page.teams if t.get("department")],
        people=sorted(
            {m["id"]: m for t in page.teams for m in t.get("members", [])}.values(),
            key=lambda m: m["name"],
        ),
        outcomes=("moved_to_court", "outside_body", "ended_by_agreement"),
        names={m["id"]: m["name"] for t in page.teams for m in t.get("members", [])},
    )


@router.post("/cases/{complaint_id}/{action}")
async def act(
    request: Request,
    complaint_id: str,
    action: str,
    person: Person,
    services: Services,
    form: Form,
) -> Response:
    try:
        await usecases.act_on_case(services, _token(request), person, complaint_id, action, form)
    except usecases.NotOffered:
        return await _case_page(
            request,
            complaint_id,
            person,
            services,
            error="This action is not open to your role.",
            status_code=403,
        )
    except ApiError as exc:
        if exc.status == 401:
            return _signed_out(request)
        # 409: the case's state forbids it (the service says why); 422: a field is missing.
        return await _case_page(
            request,
            complaint_id,
            person,
            services,
            error=exc.message,
            status_code=exc.status if exc.status < 500 else 502,
        )
    return RedirectResponse(f"/cases/{complaint_id}?done={action}", status_code=303)


@router.get("/overview", response_class=HTMLResponse)
async def supervisor_overview(
    request: Request, person: Person, services: Services, settings: Settings
) -> Response:
    if not person.at_least("supervisor"):
        return render(request, "error.html", 403, message="The overview is for supervisors.")
    figures, problems = await usecases.supervisor_overview(
        services, _token(request), settings.time_zone, datetime.now(UTC), LEVELS
    )
    if any(p.startswith("401") for p in problems):
        return _signed_out(request)
    return render(request, "overview.html", o=figures, problems=problems,
                  dashboard=f"{settings.satisfaction_url}/dashboard")  # fmt: skip
