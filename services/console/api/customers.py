"""Customer pages: no account, the link token is the credential; they work with JavaScript
off (plain forms, server-rendered answers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api.pages import render
from services.console.api.security import FormTokens, check_csrf
from services.console.domain.my_complaint import FIELD_WORDS, contact_body, page_of
from services.console.domain.survey import FACTOR_LABELS, LEVEL_NAMES, LEVELS
from services.console.settings import ConsoleSettings
from services.console.store.platform import ApiError, Platform

router = APIRouter()
Token = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9_\-\.~]+$")]


def _settings(request: Request) -> ConsoleSettings:
    return request.app.state.settings


def _platform(request: Request) -> Platform:
    return request.app.state.platform


Settings = Annotated[ConsoleSettings, Depends(_settings)]
Services = Annotated[Platform, Depends(_platform)]


def _survey_page(
    request: Request, settings: ConsoleSettings, token: str, status_code: int = 200, **context: Any
) -> Response:
    factors = [
        (f, FACTOR_LABELS.get(f, f.replace("_", " ").capitalize())) for f in settings.survey_factors
    ]
    return render(
        request, "survey.html", status_code, token=token, levels=LEVELS, factors=factors, **context
    )


@router.get("/surveys/{token}", response_class=HTMLResponse)
async def survey(
    request: Request, token: Token, services: Services, settings: Settings
) -> Response:
    try:
        found = await services.survey(token)
    except ApiError as exc:
        if exc.status == 404:
            return render(request, "survey_closed.html", 404, reason="unknown")
        return render(request, "error.html", 502, message=exc.message)
    if found["status"] != "open":
        return render(request, "survey_closed.html", reason=found["status"], survey=found)
    return _survey_page(request, settings, token, survey=found)


@router.post("/surveys/{token}", response_class=HTMLResponse)
async def answer(
    request: Request, token: Token, services: Services, settings: Settings
) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    check_csrf(request, form)
    level = form.get("level", "")
    factors = [f for f in raw.getlist("factors") if isinstance(f, str)]
    comment = (form.get("comment") or "").strip()
    if level not in LEVEL_NAMES:
        return _survey_page(
            request, settings, token, 422, chosen_factors=factors, comment=comment, error="level"
        )
    body: dict[str, Any] = {"level": level, "factors": factors}
    if comment:
        body["comment"] = comment
    try:
        await services.answer_survey(token, body)
    except ApiError as exc:
        if exc.status in (404, 409, 410):
            reason = {404: "unknown", 409: "answered", 410: "expired"}[exc.status]
            return render(request, "survey_closed.html", exc.status, reason=reason)
        if exc.status == 422:
            return _survey_page(
                request,
                settings,
                token,
                422,
                chosen_level=level,
                chosen_factors=factors,
                comment=comment,
                problem=exc.message,
            )
        return render(request, "error.html", 502, message=exc.message)
    return RedirectResponse(f"/surveys/{token}/thanks", status_code=303)


@router.get("/surveys/{token}/thanks", response_class=HTMLResponse)
async def thanks(request: Request, token: Token) -> Response:
    return render(request, "survey_thanks.html")


# -- the embeddable complaint form --------------------------------------------------------


def _form_tokens(request: Request) -> FormTokens:
    return request.app.state.form_tokens


def _complaint_form(
    request: Request, settings: ConsoleSettings, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "embed_form.html",
        status_code,
        categories=settings.complaint_categories,
        form_token=_form_tokens(request).issue(),
        values={},
        **context,
    )


@router.get("/embed/complaint", response_class=HTMLResponse)
async def complaint_form(request: Request, settings: Settings) -> Response:
    return _complaint_form(request, settings)


@router.post("/embed/complaint", response_class=HTMLResponse)
async def file_complaint(request: Request, services: Services, settings: Settings) -> Response:
    form = {k: v.strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    # The signed token is the form's CSRF protection and carries its Idempotency-Key: posted
    # twice (a double click, a reload), it files one complaint and shows the same answer.
    key = _form_tokens(request).idempotency_key(form.get("form_token", ""))
    customer = {k: form[k] for k in ("name", "phone", "email") if form.get(k)}
    body: dict[str, Any] = {
        "customer": customer,
        "category": form.get("category", ""),
        "description": form.get("description", ""),
    }
    if form.get("order"):
        subject: dict[str, Any] = {"kind": "order", "reference": form["order"]}
        if form.get("purchased_on"):
            subject["purchased_on"] = form["purchased_on"]
        body["subject"] = subject
    if form.get("claims_damages") == "yes":
        body["expected_outcome"] = {"kind": "damages"}
    try:
        answer = await services.file_complaint(body, key)
    except ApiError as exc:
        if exc.status == 422:
            # The same form (same key) again, with the field named.
            return render(
                request,
                "embed_form.html",
                422,
                categories=settings.complaint_categories,
                form_token=form["form_token"],
                values=form,
                problem=exc.message,
            )
        return render(
            request,
            "embed_answer.html",
            502 if exc.status >= 500 else exc.status,
            failure=exc.message,
        )
    return render(request, "embed_answer.html", answer=answer)


# -- the customer's own complaint ("My complaint", from the links in our messages) ----------


def _my_page(
    request: Request, token: str, found: dict[str, Any], status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "my_complaint.html",
        status_code,
        token=token,
        page=page_of(found),
        field_words=FIELD_WORDS,
        **context,
    )


def _link_failure(request: Request, exc: ApiError) -> Response:
    if exc.status in (401, 404, 422):  # 422: not even shaped like a token
        return render(request, "my_complaint_gone.html", 404, reason="unknown")
    if exc.status == 410:
        return render(request, "my_complaint_gone.html", 410, reason="expired")
    return render(request, "error.html", 502, message=exc.message)


@router.get("/c/{token}", response_class=HTMLResponse)
async def my_complaint(
    request: Request, token: Token, services: Services, saved: bool = False
) -> Response:
    try:
        found = await services.my_complaint(token)
    except ApiError as exc:
        return _link_failure(request, exc)
    return _my_page(request, token, found, saved=saved)


@router.post("/c/{token}", response_class=HTMLResponse)
async def complete_my_contact(request: Request, token: Token, services: Services) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form)
    body = contact_body(form)
    try:
        if not body:
            raise ApiError(422, "")  # nothing typed: the same page, asking for a field
        await services.complete_my_contact(token, body)
    except ApiError as exc:
        if exc.status == 422:
            try:
                found = await services.my_complaint(token)
            except ApiError as again:
                return _link_failure(request, again)
            return _my_page(request, token, found, 422, problem=exc.message, values=body)
        if exc.status == 409:  # completed meanwhile (another tab, the hotline): show where it is
            return RedirectResponse(f"/c/{token}", status_code=303)
        return _link_failure(request, exc)
    return RedirectResponse(f"/c/{token}?saved=true", status_code=303)
