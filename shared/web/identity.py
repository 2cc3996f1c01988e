"""OAuth2 / OpenID Connect bearer JWTs, verified with PyJWT: the signature against the
issuer's keys (a JWKS URL, fetched and cached, or a file holding a PEM public key or a JWKS),
then ``exp``, ``iss`` and ``aud``. Only asymmetric algorithms are accepted, so a token can
never be signed with the public key as an HMAC secret."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

log = logging.getLogger(__name__)

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class InvalidToken(Exception):
    """The token is not acceptable (401); the message says why, without the token."""


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched and none are cached (503)."""


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    claims: dict[str, Any]


class StaticKeys:
    """Keys from a file: a PEM public key, or a JWKS document (``{"keys": [...]}``)."""

    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        self.pem: str | None = None
        self.keys: dict[str | None, PyJWK] = {}
        if text.lstrip().startswith("{"):
            self.keys = _index(PyJWKSet.from_dict(json.loads(text)))
        elif "PUBLIC KEY" in text:
            self.pem = text
        else:
            raise ValueError(f"{path}: neither a PEM public key nor a JWKS document")

    async def key(self, kid: str | None) -> tuple[Any, str | None]:
        if self.pem is not None:
            return self.pem, None
        return _pick(self.keys, kid)


class RemoteJwks:
    """The issuer's JWKS, fetched over HTTP and kept ``ttl`` seconds; a token naming a key
    not (yet) known refreshes it, at most once every ``min_refresh`` seconds (key rotation
    without letting forged kids hammer the issuer)."""

    def __init__(self, url: str, ttl: float = 300.0, min_refresh: float = 10.0) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.keys: dict[str | None, PyJWK] = {}
        self.fetched = float("-inf")
        self.lock = asyncio.Lock()

    async def key(self, kid: str | None) -> tuple[Any, str | None]:
        age = time.monotonic() - self.fetched
        unknown = kid not in self.keys and not (kid is None and len(self.keys) == 1)
        if age > self.ttl or (unknown and age > self.min_refresh):
            await self._refresh()
        return _pick(self.keys, kid)

    async def _refresh(self) -> None:
        async with self.lock:
            if time.monotonic() - self.fetched <= self.min_refresh:
                return  # another request refreshed meanwhile
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                self.keys = _index(PyJWKSet.from_dict(response.json()))
                self.fetched = time.monotonic()
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                log.warning("cannot fetch the issuer's keys", extra={"error": type(exc).__name__})
                if not self.keys:
                    raise KeysUnavailable("the identity provider's keys are unavailable") from None


def _index(found: PyJWKSet) -> dict[str | None, PyJWK]:
    return {k.key_id: k for k in found.keys}


def _pick(keys: dict[str | None, PyJWK], kid: str | None) -> tuple[Any, str | None]:
    if kid in keys:
        chosen = keys[kid]
    elif kid is None and len(keys) == 1:
        chosen = next(iter(keys.values()))
    else:
        raise InvalidToken("signed with an unknown key")
    return chosen.key, chosen.algorithm_name


_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
]


class JwtVerifier:
    def __init__(
        self,
        keys: StaticKeys | RemoteJwks,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        leeway: float = 30.0,
    ) -> None:
        bad = set(algorithms) - ASYMMETRIC
        if bad or not algorithms:
            raise ValueError(f"AUTH_ALGORITHMS: only {', '.join(sorted(ASYMMETRIC))} are accepted")
        if not issuer or not audience:
            raise ValueError("AUTH_ISSUER and AUTH_AUDIENCE are needed to verify tokens")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway

    async def verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("not a well-formed token") from None
        kid = header.get("kid")
        key, key_alg = await self.keys.key(kid if isinstance(kid, str) else None)
        algorithms = [a for a in self.algorithms if key_alg in (None, a)]
        if not algorithms:
            raise InvalidToken("the token's algorithm is not accepted")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((r for kind, r in _REASONS if isinstance(exc, kind)), None)
            raise InvalidToken(reason or "the token is not valid") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token names no subject")
        return VerifiedToken(subject, claims)


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or a dotted path into nested claims (``realm_access.roles``)."""
    found: Any = claims
    for part in path.split("."):
        if not isinstance(found, dict) or part not in found:
            return claims.get(path)
        found = found[part]
    return found
