"""Chinese and English: gettext catalogues (Babel) under locale/, the person's choice kept in
the session, else the browser's Accept-Language."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from fastapi import Request

LOCALES = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"en": "English", "zh_CN": "中文"}
DEFAULT = "en"


@cache
def translations(language: str) -> NullTranslations:
    if language == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALES), [language], domain="messages")


def language_of(request: Request) -> str:
    chosen = request.session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "").lower()
    return "zh_CN" if accepted.startswith("zh") else DEFAULT
