"""Who is calling the ops APIs (escalation, follow-up, satisfaction, notify), and may they.

Every operator is a person: a bearer JWT from the identity provider (``AUTH_*`` settings,
verified in ``shared.web.identity``) names them in ``sub``, their display name and roles in
configurable claims (``AUTH_NAME_CLAIM``, ``AUTH_ROLES_CLAIM``; a token without the roles
claim gets the person's roles from the staff directory). For development only, static tokens
may name a person of the directory: ``OPS_TOKENS=frontline-li:T1,duty-wang:T2``.

Roles are ordered (``Role``): a supervisor may do what a team lead or an agent may, an admin
anything. Missing, expired, wrong-audience, wrong-issuer or badly signed token: 401; a role
below the one required: 403. What is written as the actor is the person's id (``Principal
.name``), never any part of a credential."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.directory import Directory, StaffRole
from shared.settings import ServiceSettings
from shared.web.auth import identify, parse_credentials
from shared.web.identity import (
    InvalidToken,
    JwtVerifier,
    KeysUnavailable,
    RemoteJwks,
    StaticKeys,
    claim,
)

log = logging.getLogger(__name__)


class Role(IntEnum):
    """Permission levels, lowest first; the names are the directory's roles."""

    AGENT = 1
    TEAM_LEAD = 2
    SUPERVISOR = 3
    CUSTOMER_RELATIONS = 4
    MANAGER = 5
    EXECUTIVE = 6
    ADMIN = 7

    @classmethod
    def of(cls, name: str) -> Role | None:
        return cls.__members__.get(str(name).upper())

    @classmethod
    def from_names(cls, names: Iterable[str]) -> frozenset[Role]:
        return frozenset(r for r in (cls.of(n) for n in names) if r is not None)


assert {r.name.lower() for r in Role} == {r.value for r in StaffRole}


@dataclass(frozen=True)
class Principal:
    person_id: str
    display_name: str | None
    roles: frozenset[Role]

    @property
    def role(self) -> Role | None:
        """The highest of the person's roles."""
        return max(self.roles, default=None)

    @property
    def name(self) -> str:
        """The actor as written in events, audit trails and timelines: the person's id."""
        return self.person_id

    def has(self, role: Role) -> bool:
        return self.role is not None and self.role >= role


class Authenticator:
    """Turns a bearer token into a ``Principal``: a JWT when an issuer is configured, else (or
    when it is not a JWT) one of the development tokens."""

    def __init__(
        self,
        directory: Directory,
        verifier: JwtVerifier | None = None,
        dev_tokens: list[tuple[str, str]] | None = None,
        name_claim: str = "name",
        roles_claim: str = "roles",
    ) -> None:
        self.directory = directory
        self.verifier = verifier
        self.dev_tokens = dev_tokens or []
        self.name_claim = name_claim
        self.roles_claim = roles_claim

    @classmethod
    def from_settings(cls, settings: ServiceSettings, directory: Directory) -> Authenticator:
        verifier = None
        if settings.auth_jwks_url or settings.auth_public_key_file:
            keys: StaticKeys | RemoteJwks
            if settings.auth_jwks_url:
                keys = RemoteJwks(settings.auth_jwks_url)
            else:
                try:
                    keys = StaticKeys(Path(settings.auth_public_key_file))
                except (OSError, ValueError) as exc:
                    raise ValueError(f"AUTH_PUBLIC_KEY_FILE: {exc}") from None
            verifier = JwtVerifier(
                keys,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                algorithms=[a.strip() for a in settings.auth_algorithms.split(",") if a.strip()],
            )
        spec = settings.ops_tokens
        spec = spec.get_secret_value() if hasattr(spec, "get_secret_value") else spec
        dev_tokens = parse_ops_tokens(spec, directory)
        if verifier is None and not dev_tokens:
            log.info("no AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE or OPS_TOKENS: ops APIs refuse all")
        return cls(directory, verifier, dev_tokens, settings.auth_name_claim,
                   settings.auth_roles_claim)  # fmt: skip

    async def authenticate(self, token: str) -> Principal:
        """``InvalidToken`` (401) or ``KeysUnavailable`` (503) when it cannot."""
        if self.verifier is not None and token.count(".") == 2:
            verified = await self.verifier.verify(token)
            return self._person(verified.subject, verified.claims)
        person_id = identify(token, self.dev_tokens)
        if person_id is None:
            raise InvalidToken("unknown bearer token")
        return self._person(person_id, {})

    def _person(self, person_id: str, claims: dict) -> Principal:
        known = self.directory.person(person_id)
        if known is not None and not known.active:
            raise InvalidToken("this person's access is withdrawn")
        name = claim(claims, self.name_claim) if claims else None
        roles_claim = claim(claims, self.roles_claim) if claims else None
        if isinstance(roles_claim, str):
            roles_claim = roles_claim.split()  # a space-separated claim, like OAuth2 scope
        if isinstance(roles_claim, list):
            roles = Role.from_names(str(r) for r in roles_claim)
        else:  # no roles claim: the directory's
            roles = Role.from_names(known.roles) if known is not None else frozenset()
        if not isinstance(name, str) or not name:
            name = known.name if known is not None else None
        return Principal(person_id=person_id, display_name=name, roles=roles)


def parse_ops_tokens(spec: str, directory: Directory) -> list[tuple[str, str]]:
    """``person-id:token`` pairs; every person must be in the staff directory."""
    pairs = parse_credentials(spec)
    for person_id, _ in pairs:
        if directory.person(person_id) is None:
            raise ValueError(
                f"OPS_TOKENS: {person_id!r} is not a person of the staff directory"
                " (OPS_TOKENS=person-id:token,...)"
            )
    return pairs


_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An OIDC access token (in development also an OPS_TOKENS token)",
)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The calling person, any role (the app keeps an ``Authenticator`` in
    ``app.state.auth``)."""
    if credentials is None or not credentials.credentials.strip():
        raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    try:
        return await request.app.state.auth.authenticate(credentials.credentials.strip())
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None


def require(role: Role):
    """A FastAPI dependency admitting people with ``role`` or above."""

    async def check(who: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not who.has(role):
            raise HTTPException(403, f"this action needs the {role.name.lower()} role")
        return who

    return Depends(check)
