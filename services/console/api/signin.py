"""Sign-in and sign-out: OpenID Connect with the company's identity provider (in
development, the development issuer's page listing the demo staff)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.api.pages import render
from services.console.api.staff import Form, Services, Settings, _local
from services.console.domain.staff import StaffMember
from services.console.settings import ConsoleSettings
from services.console.store.identity_provider import IdentityProvider, SignedIn, SignInRefused
from services.console.store.platform import ApiError, Platform

router = APIRouter()
log = logging.getLogger(__name__)


def _provider(request: Request) -> IdentityProvider | None:
    return request.app.state.identity_provider


Provider = Annotated[IdentityProvider | None, Depends(_provider)]


def _page(
    request: Request,
    settings: ConsoleSettings,
    status: int = 200,
    error: str | None = None,
    next_url: str = "/work",
) -> Response:
    provider = settings.oidc_provider_name if settings.oidc_issuer else None
    return render(request, "signin.html", status, error=error, next=next_url, provider=provider)


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, settings: Settings, next: str = "/work") -> Response:
    return _page(request, settings, next_url=_local(next))


@router.get("/auth/login")
async def login(
    request: Request, settings: Settings, provider: Provider, next: str = "/work"
) -> Response:
    if provider is None:
        return _page(request, settings, 404, "No identity provider is configured.")
    request.session["signin_next"] = _local(next)
    try:
        return await provider.start(request)
    except SignInRefused as exc:
        log.warning("sign-in not started", extra={"reason": exc.reason})
        return _page(request, settings, 502, f"Sign-in failed: {exc.reason}.")


@router.get("/auth/callback")
async def callback(
    request: Request, settings: Settings, provider: Provider, services: Services
) -> Response:
    if provider is None:
        return _page(request, settings, 404, "No identity provider is configured.")
    try:
        signed_in = await provider.finish(request)
    except SignInRefused as exc:
        log.warning("sign-in refused", extra={"reason": exc.reason})
        return _page(request, settings, 400, f"Sign-in failed: {exc.reason}.")
    next_url = request.session.get("signin_next", "/work")
    return await _start_session(request, settings, services, signed_in, next_url)


async def _start_session(
    request: Request,
    settings: ConsoleSettings,
    services: Platform,
    signed_in: SignedIn,
    next_url: str,
) -> Response:
    token = signed_in.access_token
    try:
        me = await services.me(token)
    except ApiError as exc:
        return _page(
            request, settings, 502,
            f"The escalation service did not accept the sign-in: {exc.message}",
        )  # fmt: skip
    if me["id"] != signed_in.subject:
        # The access token names someone else than the ID token: trust neither.
        log.warning("sign-in refused", extra={"reason": "subjects differ"})
        return _page(request, settings, 400, "Sign-in failed: the tokens name different people.")
    csrf = request.session.get("csrf")
    lang = request.session.get("lang")
    request.session.clear()  # a new session on sign-in (no fixation)
    if csrf:
        request.session["csrf"] = csrf
    if lang:
        request.session["lang"] = lang
    request.session["token"] = token
    person = StaffMember(me["id"], me["name"], tuple(me["roles"]), tuple(me["teams"]))
    request.session["staff"] = person.to_session()
    return RedirectResponse(_local(next_url), status_code=303)


@router.post("/signout")
async def signout(request: Request, form: Form) -> Response:
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)
