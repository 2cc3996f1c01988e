"""Bearer tokens with roles for the ops APIs (escalation, follow-up, satisfaction).

``OPS_TOKENS=agent:T1,supervisor:T2,admin:T3``. Roles are ordered: a supervisor may do what
an agent may, an admin what a supervisor may. Missing or unknown token: 401; a role below
the one required: 403."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from shared.web.auth import identify, parse_credentials


class Role(IntEnum):
    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3


@dataclass(frozen=True)
class Principal:
    role: Role
    token_hint: str  # the token's last characters, for audit trails, never the token

    @property
    def name(self) -> str:
        return f"{self.role.name.lower()}:{self.token_hint}"


def parse_ops_tokens(spec: str) -> list[tuple[str, str]]:
    pairs = parse_credentials(spec)
    for role, _ in pairs:
        if role.upper() not in Role.__members__:
            raise ValueError(f"unknown role {role!r} in OPS_TOKENS (agent, supervisor, admin)")
    return pairs


def require(role: Role):
    """A FastAPI dependency admitting ``role`` and above. The app keeps the parsed tokens in
    ``app.state.ops_tokens``."""

    # async: FastAPI runs a plain def dependency in a worker thread, a hop per request.
    async def check(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        name = None
        if scheme.lower() == "bearer" and token:
            name = identify(token.strip(), request.app.state.ops_tokens)
        if name is None:
            raise HTTPException(
                401, "missing or unknown bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        found = Role[name.upper()]
        if found < role:
            raise HTTPException(403, f"this action needs the {role.name.lower()} role")
        return Principal(found, token.strip()[-4:])

    return Depends(check)
