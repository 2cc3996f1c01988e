"""The test identity provider: a key pair generated in this test process (never the
developer's ``.local`` one), its JWKS written to a temporary file the services read
(``AUTH_PUBLIC_KEY_FILE``), and tokens minted for the demo staff (deploy/local/staff.yaml).

``bearer("duty-wang")`` gives the headers of a supervisor; ``STAFF`` names who plays which
role in tests."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from shared.dev_issuer import Issuer
from shared.directory import DEMO_DIRECTORY, load_directory

ISSUER = "https://issuer.test.invalid"
AUDIENCE = "complaint-platform-tests"
# Who plays which role (people of the demo directory).
STAFF = {
    "agent": "frontline-li",
    "team_lead": "lead-zhang",
    "supervisor": "duty-wang",
    "customer_relations": "relations-chen",
    "manager": "manager-liu",
    "executive": "exec-zhao",
    "admin": "admin-ops",
}


@cache
def issuer_for_tests() -> Issuer:
    return Issuer.generate(ISSUER, AUDIENCE)


@cache
def jwks_file() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="test-issuer-"))
    return issuer_for_tests().write_jwks(folder / "jwks.json")


def auth_env() -> dict[str, str]:
    """Environment of a service process that trusts the test issuer."""
    return {
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(jwks_file()),
    }


def auth_settings() -> dict[str, Any]:
    """The same as settings keyword arguments (services built in process)."""
    return {
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "auth_public_key_file": str(jwks_file()),
    }


def token(person_id: str, ttl: timedelta = timedelta(hours=12), **claims: Any) -> str:
    """A token for a person of the demo directory, with their name and roles."""
    person = load_directory(DEMO_DIRECTORY).person(person_id)
    if person is None:
        return issuer_for_tests().mint(person_id, ttl=ttl, **claims)
    claims.setdefault("name", person.name)
    claims.setdefault("roles", list(person.roles))
    return issuer_for_tests().mint(person_id, ttl=ttl, **claims)


def bearer(person_id: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(person_id, **claims)}"}


def as_role(role: str) -> dict[str, str]:
    return bearer(STAFF[role])
