"""The company's OpenID Connect provider, as the console signs staff in with it: the
authorization code flow with PKCE (S256), through Authlib's Starlette client. Authlib keeps
the state, the nonce and the code verifier in the session while the person is away at the
provider, refuses a callback whose state it did not issue, and checks the ID token (signature
against the provider's JWKS, issuer, audience, expiry, nonce). The access token is what the
services are then called with."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import Request
from fastapi.responses import RedirectResponse
from joserfc.errors import JoseError

from services.console.settings import ConsoleSettings

with warnings.catch_warnings():
    # Authlib would rather have httpx2; httpx (the project's client) is its supported fallback.
    warnings.filterwarnings("ignore", "The httpx module", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth

NAME = "staff"
# Authlib's debug lines quote the PKCE verifier: never below INFO, whatever LOG_LEVEL says.
logging.getLogger("authlib").setLevel(logging.INFO)


class SignInRefused(Exception):
    """The sign-in did not complete; ``reason`` is safe to show and log (no token, no code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    subject: str


class IdentityProvider:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        discovery = settings.oidc_discovery_url or (
            settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        self.oauth = OAuth()
        self.client = self.oauth.register(
            NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value() or None,
            server_metadata_url=discovery,
            client_kwargs={
                "scope": settings.oidc_scope,
                "code_challenge_method": "S256",
                "timeout": settings.request_timeout_seconds,
            },
        )

    async def start(self, request: Request) -> RedirectResponse:
        """The redirect to the provider's authorize page (state, nonce and PKCE verifier kept
        in the session)."""
        try:
            return await self.client.authorize_redirect(request, self.settings.oidc_redirect_url)
        except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as exc:
            raise SignInRefused(
                f"the identity provider did not answer ({type(exc).__name__})"
            ) from None

    async def finish(self, request: Request) -> SignedIn:
        """The callback: the code exchanged for tokens, the ID token checked."""
        try:
            token = await self.client.authorize_access_token(request)
        except AuthlibBaseError as exc:
            # MismatchingStateError is one: a state this session did not start (tampered,
            # replayed, or a sign-in begun in another browser); the token endpoint's refusal
            # (invalid_grant: a wrong PKCE verifier, a used code) another.
            raise SignInRefused(
                f"the identity provider's answer was refused ({exc.error})"
            ) from None
        except httpx.HTTPError as exc:
            raise SignInRefused(
                f"the identity provider did not answer ({type(exc).__name__})"
            ) from None
        except JoseError as exc:  # the ID token: signature, issuer, audience, expiry, nonce
            raise SignInRefused(f"the ID token was refused ({type(exc).__name__})") from None
        claims = token.get("userinfo")
        if not claims or not token.get("access_token"):
            # Without a checked ID token nothing proves the nonce: refuse.
            raise SignInRefused("the identity provider sent no ID token")
        return SignedIn(access_token=token["access_token"], subject=str(claims["sub"]))
