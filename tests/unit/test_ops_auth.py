"""From a verified token to a person: configurable claims, roles ranked, the directory's roles
when the token has none, withdrawn people refused, development tokens naming people."""

from __future__ import annotations

import pytest

from shared.dev_issuer import Issuer
from shared.directory import DEMO_DIRECTORY, load_directory, parse_directory
from shared.web.identity import InvalidToken, JwtVerifier, StaticKeys, claim
from shared.web.ops_auth import Authenticator, Role, parse_ops_tokens

ISSUER = Issuer.generate("https://idp.test", "platform")
STAFF = load_directory(DEMO_DIRECTORY)


@pytest.fixture
def auth(tmp_path) -> Authenticator:
    keys = StaticKeys(ISSUER.write_jwks(tmp_path / "jwks.json"))
    verifier = JwtVerifier(keys, issuer="https://idp.test", audience="platform",
                           algorithms=["RS256"])  # fmt: skip
    return Authenticator(STAFF, verifier, [("duty-wang", "dev-token")],
                         name_claim="preferred_name", roles_claim="realm_access.roles")  # fmt: skip


async def test_claims_are_read_where_configured(auth) -> None:
    claims = {"preferred_name": "Someone New", "realm_access": {"roles": ["manager", "other"]}}
    token = ISSUER.mint("someone-new", extra=claims)
    who = await auth.authenticate(token)
    assert (who.person_id, who.display_name, who.role) == ("someone-new", "Someone New",
                                                           Role.MANAGER)  # fmt: skip
    assert who.name == "someone-new" and who.has(Role.SUPERVISOR) and not who.has(Role.EXECUTIVE)


async def test_without_a_roles_claim_the_directory_decides(auth) -> None:
    who = await auth.authenticate(ISSUER.mint("lead-zhang"))
    assert (who.role, who.display_name) == (Role.TEAM_LEAD, "Zhang Min")
    stranger = await auth.authenticate(ISSUER.mint("not-in-the-directory"))
    assert stranger.role is None and not stranger.has(Role.AGENT)


async def test_a_pem_public_key_file_works_too(tmp_path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(ISSUER.public_pem())
    verifier = JwtVerifier(StaticKeys(pem), issuer="https://idp.test", audience="platform",
                           algorithms=["RS256"])  # fmt: skip
    assert (await verifier.verify(ISSUER.mint("a"))).subject == "a"
    with pytest.raises(InvalidToken, match="audience"):
        await verifier.verify(ISSUER.mint("a", audience="elsewhere"))


async def test_withdrawn_people_and_unknown_dev_tokens_are_refused(auth) -> None:
    gone = parse_directory(
        "people:\n  - {id: gone, name: G, roles: [admin], notify: [], active: false}"
    )
    with pytest.raises(InvalidToken, match="withdrawn"):
        await Authenticator(gone, auth.verifier).authenticate(ISSUER.mint("gone"))
    dev = await auth.authenticate("dev-token")
    assert (dev.person_id, dev.role) == ("duty-wang", Role.SUPERVISOR)
    with pytest.raises(InvalidToken):
        await auth.authenticate("other-token")


def test_dev_tokens_must_name_people_and_symmetric_algorithms_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="'agent' is not a person"):
        parse_ops_tokens("agent:T1", STAFF)
    assert parse_ops_tokens("frontline-li:T1", STAFF) == [("frontline-li", "T1")]
    keys = StaticKeys(ISSUER.write_jwks(tmp_path / "jwks.json"))
    with pytest.raises(ValueError, match="AUTH_ALGORITHMS"):
        JwtVerifier(keys, issuer="i", audience="a", algorithms=["HS256"])
    with pytest.raises(ValueError, match="AUTH_ISSUER"):
        JwtVerifier(keys, issuer="", audience="a", algorithms=["RS256"])


def test_claims_by_name_or_dotted_path() -> None:
    claims = {"roles": ["agent"], "realm_access": {"roles": ["admin"]}, "a.b": 1}
    assert claim(claims, "roles") == ["agent"]
    assert claim(claims, "realm_access.roles") == ["admin"]
    assert claim(claims, "a.b") == 1
    assert claim(claims, "missing.path") is None
    assert Role.from_names(["agent", "admin", "janitor"]) == {Role.AGENT, Role.ADMIN}
