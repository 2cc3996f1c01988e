"""Security of every page: a strict Content-Security-Policy (no inline scripts or styles,
nothing from elsewhere), no referrer (survey links carry their token in the path), pages not
cached, and CSRF tokens: one per session for the staff and survey forms (compared in constant
time), and a signed, expiring token for the embeddable form, which third-party frames post
without the session cookie (SameSite=Lax)."""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders:
    """Pure ASGI: adds the headers to every answer; ``frame-ancestors`` is 'none' except on
    the embeddable form's paths, where it names the configured sites."""

    def __init__(self, app: ASGIApp, embed_ancestors: list[str]) -> None:
        self.app = app
        self.embed = " ".join(embed_ancestors) or "'none'"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ancestors = self.embed if scope["path"].startswith("/embed/") else "'none'"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (
                        b"content-security-policy",
                        f"{BASE_POLICY}; frame-ancestors {ancestors}".encode(),
                    ),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if ancestors == "'none'":
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: dict[str, str]) -> None:
    expected = request.session.get("csrf") or ""
    given = form.get("csrf_token") or ""
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "The form expired or did not come from this site; reload it.")


class FormTokens:
    """Signed, expiring tokens of the embeddable form: they carry the Idempotency-Key chosen
    when the form was rendered, so a double click (or a retry) files one complaint."""

    def __init__(self, secret: str, max_age_seconds: int = 24 * 3600) -> None:
        self.signer = URLSafeTimedSerializer(secret, salt="console.embed-form")
        self.max_age = max_age_seconds

    def issue(self) -> str:
        return self.signer.dumps({"idempotency_key": secrets.token_urlsafe(18)})

    def idempotency_key(self, token: str) -> str:
        try:
            data = self.signer.loads(token, max_age=self.max_age)
        except BadSignature:
            raise HTTPException(403, "The form expired; reload the page.") from None
        return str(data["idempotency_key"])
