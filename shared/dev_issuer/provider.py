"""The development issuer as an OpenID Connect provider: authorization code flow with PKCE.

So that the console signs people in by the same code path in development and tests as with
the company's provider (Keycloak, Entra ID, ...): a discovery document, an authorize page that
lists the demo staff (pick a person, no password: development only), and a token endpoint
issuing the same JWTs as ``mint``. Codes live in this process's memory for a minute, single
use, bound to the client, the redirect URL, the PKCE challenge (S256 only) and the nonce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlencode

from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.dev_issuer import Issuer
from shared.directory import Directory

TEMPLATES = Path(__file__).resolve().parent / "templates"
CODE_SECONDS = 60
# What the page and the redirect carry through the person's choice.
REQUEST_FIELDS = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
                  "code_challenge", "code_challenge_method")  # fmt: skip


@dataclass(frozen=True)
class Client:
    """A relying party registered with the development provider (the console)."""

    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    person: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    expires: float


@dataclass
class Provider:
    issuer: Issuer
    base_url: str  # where browsers reach it (the authorize page)
    clients: dict[str, Client]
    directory: Directory
    # Where the console and the services reach it, when not at base_url (a container
    # network: the browser on the host, the console in a container).
    internal_url: str | None = None
    access_ttl: timedelta = timedelta(hours=12)
    codes: dict[str, Grant] = field(default_factory=dict)

    def configuration(self) -> dict[str, Any]:
        internal = self.internal_url or self.base_url
        return {
            **self.issuer.openid_configuration(f"{internal}/.well-known/jwks.json"),
            "authorization_endpoint": f"{self.base_url}/authorize",
            "token_endpoint": f"{internal}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["sub", "name", "roles", "nonce"],
        }

    def request_problem(self, params: dict[str, str]) -> str | None:
        """Why an authorization request is refused before anyone is asked, or None."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return "unknown client_id"
        if params.get("redirect_uri") not in client.redirect_uris:
            return "redirect_uri is not registered for this client"
        return None

    def redirect_problem(self, params: dict[str, str]) -> tuple[str, str] | None:
        """An error to send back to the client (its redirect URL is trusted by now)."""
        if params.get("response_type") != "code":
            return "unsupported_response_type", "only the authorization code flow"
        if "openid" not in params.get("scope", "").split():
            return "invalid_scope", "scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request", "PKCE with S256 is required"
        return None

    def issue_code(self, params: dict[str, str], person: str) -> str:
        self._forget_expired()
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            person=person,
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"],
            nonce=params.get("nonce") or None,
            scope=params.get("scope", "openid"),
            expires=time.monotonic() + CODE_SECONDS,
        )
        return code

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for code in [c for c, g in self.codes.items() if g.expires < now]:
            del self.codes[code]

    def client_of(self, authorization: str | None, form: dict[str, str]) -> Client | None:
        """The authenticated client: HTTP Basic (RFC 6749 2.3.1, form-encoded parts) or
        client_id and client_secret in the body."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except ValueError:
                return None
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            return None
        return client

    def exchange(self, client: Client, form: dict[str, str]) -> dict[str, Any] | str:
        """The tokens for a code, or the OAuth error code."""
        if form.get("grant_type") != "authorization_code":
            return "unsupported_grant_type"
        grant = self.codes.pop(form.get("code", ""), None)  # single use, even when refused
        if grant is None or grant.expires < time.monotonic():
            return "invalid_grant"
        if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
            return "invalid_grant"
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(challenge, grant.code_challenge):
            return "invalid_grant"
        person = self.directory.person(grant.person)
        if person is None or not person.active:
            return "invalid_grant"
        roles = [str(r) for r in person.roles]
        access = self.issuer.mint(person.id, name=person.name, roles=roles, ttl=self.access_ttl)
        id_token = self.issuer.mint(
            person.id,
            name=person.name,
            roles=roles,
            ttl=timedelta(minutes=5),
            audience=client.client_id,
            extra={"nonce": grant.nonce} if grant.nonce else None,
        )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl.total_seconds()),
            "id_token": id_token,
            "scope": grant.scope,
        }


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def provider_app(provider: Provider) -> FastAPI:
    app = FastAPI(title="Development identity provider", docs_url=None, redoc_url=None)
    pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    no_store = {"Cache-Control": "no-store"}

    def page(status: int, **context: Any) -> HTMLResponse:
        html = pages.get_template("authorize.html").render(**context)
        return HTMLResponse(html, status, headers=no_store)

    @app.get("/.well-known/jwks.json")
    async def keyset() -> dict:
        return provider.issuer.jwks()

    @app.get("/.well-known/openid-configuration")
    async def configuration() -> dict:
        return provider.configuration()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    async def ask(params: dict[str, str]) -> Response:
        problem = provider.request_problem(params)
        if problem:  # never redirect to a URL nobody registered
            return page(400, error=problem, people=[], params={})
        refused = provider.redirect_problem(params)
        if refused:
            error, description = refused
            reply = {"error": error, "error_description": description}
            if params.get("state"):
                reply["state"] = params["state"]
            return RedirectResponse(_with_query(params["redirect_uri"], reply), 303)
        people = [p for p in provider.directory.people if p.active]
        kept = {k: params[k] for k in REQUEST_FIELDS if params.get(k)}
        return page(200, error=None, people=people, params=kept, client=params["client_id"])

    @app.get("/authorize", response_class=HTMLResponse)
    async def authorize(request: Request) -> Response:
        return await ask(dict(request.query_params))

    @app.post("/authorize")
    async def choose(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        params = {k: form[k] for k in REQUEST_FIELDS if k in form}
        if provider.request_problem(params) or provider.redirect_problem(params):
            return await ask(params)
        person = provider.directory.person(form.get("person", ""))
        if person is None or not person.active:
            return page(400, error="no such person", people=[], params={})
        code = provider.issue_code(params, person.id)
        reply = {"code": code}
        if params.get("state"):
            reply["state"] = params["state"]
        return RedirectResponse(_with_query(params["redirect_uri"], reply), 303)

    @app.post("/token")
    async def token(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        client = provider.client_of(authorization, form)
        if client is None:
            return JSONResponse({"error": "invalid_client"}, 401, headers=no_store)
        answer = provider.exchange(client, form)
        if isinstance(answer, str):
            return JSONResponse({"error": answer}, 400, headers=no_store)
        return JSONResponse(answer, headers=no_store)

    return app
