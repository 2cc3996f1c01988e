"""Rendering: Jinja2 templates, autoescaped, in the request's language, times in the site's
time zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.console.api.i18n import LANGUAGES, language_of, translations
from services.console.api.security import csrf_token
from services.console.domain.callbacks import CallbackTier

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def build_templates(time_zone: str) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    zone = ZoneInfo(time_zone)

    def local(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(zone).strftime(fmt)

    def iso(value: str | datetime | None) -> str:
        if not value:
            return ""
        return value if isinstance(value, str) else value.isoformat()

    templates.env.filters["local"] = local
    templates.env.filters["iso"] = iso
    templates.env.globals["time_zone"] = time_zone
    templates.env.globals["LANGUAGES"] = LANGUAGES
    templates.env.globals["callback_tier"] = CallbackTier.of
    return templates


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    language = language_of(request)
    gettext = translations(language).gettext
    return templates.TemplateResponse(
        request,
        name,
        {
            "_": gettext,
            "lang": language,
            "csrf_token": csrf_token(request),
            "me": request.session.get("staff"),
            **context,
        },
        status_code=status_code,
    )
