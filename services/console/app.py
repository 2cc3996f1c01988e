"""The console: staff workspace and customer pages, server-rendered, every asset served by
the app itself."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from services.console.api import callbacks, customers, signin, staff
from services.console.api.pages import build_templates, render
from services.console.api.security import FormTokens, SecurityHeaders
from services.console.settings import ConsoleSettings
from services.console.store.identity_provider import IdentityProvider
from services.console.store.platform import Platform

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.platform = Platform(settings)
        try:
            yield
        finally:
            await app.state.platform.close()

    app = FastAPI(title="Complaint console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.settings = settings
    app.state.templates = build_templates(settings.time_zone)
    app.state.identity_provider = IdentityProvider(settings) if settings.oidc_issuer else None
    secret = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
    app.state.form_tokens = FormTokens(secret)
    # Starlette's session cookie: signed (itsdangerous), HttpOnly, SameSite=Lax, Secure when
    # served over TLS.
    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie="console_session",
        max_age=settings.session_max_age_seconds, same_site="lax",
        https_only=settings.secure_cookies,
    )  # fmt: skip
    app.add_middleware(SecurityHeaders, embed_ancestors=settings.embed_ancestors)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(signin.router)
    app.include_router(staff.router)
    app.include_router(callbacks.router)
    app.include_router(customers.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(staff.SignInRequired)
    async def sign_in_first(request: Request, exc: staff.SignInRequired) -> Response:
        return RedirectResponse(f"/signin?next={exc.next_url}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return render(request, "error.html", exc.status_code, message=str(exc.detail))

    return app
