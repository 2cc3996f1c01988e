"""Bearer JWTs in every service's ops API (in process, real databases): a valid token of the
test issuer is let in; expired, wrong-audience, wrong-issuer, badly signed, tampered,
unsigned and HMAC-with-the-public-key tokens are 401; too low a role is 403. The JWKS URL
path, with key rotation, against a real HTTP server; OPS_TOKENS name people."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import uvicorn
from fastapi import FastAPI

from services.escalation.app import create_app as escalation_app
from services.escalation.settings import EscalationSettings
from services.followup.app import create_app as followup_app
from services.followup.settings import FollowupSettings
from services.satisfaction.app import create_app as satisfaction_app
from services.satisfaction.settings import SatisfactionSettings
from shared.dev_issuer import Issuer
from shared.dev_issuer.__main__ import jwks_app
from shared.web.identity import JwtVerifier, RemoteJwks
from tests.support.identity import AUDIENCE, ISSUER, auth_settings, bearer, issuer_for_tests, token
from tests.support.processes import free_port

# Per service: how to build it, a request only staff get past the credential check with,
# who may make it, and the answer then (200, or 422 for the empty body).
Service = tuple[Callable[..., FastAPI], type, dict, str, str, str, int]
SERVICES: dict[str, Service] = {
    "escalation": (escalation_app, EscalationSettings, {}, "GET", "/cases", "frontline-li", 200),
    "followup": (followup_app, FollowupSettings, {}, "GET", "/callbacks", "frontline-li", 200),
    "satisfaction": (satisfaction_app, SatisfactionSettings, {}, "POST", "/surveys",
                     "frontline-li", 422),
}  # fmt: skip
if importlib.util.find_spec("services.notify") is not None:  # the notification service
    from services.notify.app import create_app as notify_app
    from services.notify.settings import NotifySettings

    SERVICES["notify"] = (notify_app, NotifySettings, {"webhook_secret": "test-secret"}, "GET",
                          "/messages", "duty-wang", 200)  # fmt: skip


@asynccontextmanager
async def client_of(service: str, databases, **settings) -> AsyncIterator[httpx.AsyncClient]:
    factory, settings_cls, extra, *_ = SERVICES[service]
    url = await databases.create(service)
    app = factory(settings_cls(database_url=url, kafka_topic_prefix="it.", **extra, **settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as client:
        yield client
    await app.state.runtime.engine.dispose()


def forged(claims_change: dict | None = None, header: dict | None = None, key=None, alg="RS256"):
    """A token shaped like the issuer's, signed with ``key`` (another key by default)."""
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "admin-ops", "roles": ["admin"],
              "exp": int((now + timedelta(hours=1)).timestamp())}  # fmt: skip
    claims.update(claims_change or {})
    signer = key if key is not None else Issuer.generate().private_key
    return jwt.encode(
        claims, signer, alg, headers={"kid": issuer_for_tests().kid, **(header or {})}
    )


def tampered() -> str:
    """A real agent's token with its roles claim changed to admin, signature kept."""
    head, body, signature = token("frontline-li").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["roles"] = ["admin"]
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def unsigned() -> str:
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "admin-ops", "roles": ["admin"],
              "exp": int((now + timedelta(hours=1)).timestamp())}  # fmt: skip
    return jwt.encode(claims, None, "none")


def hmac_with_public_key() -> str:
    """The classic confusion attack: HS256 keyed with the issuer's public key."""
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "admin-ops", "roles": ["admin"],
              "exp": int((now + timedelta(hours=1)).timestamp())}  # fmt: skip
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer_for_tests().kid}
    encode = lambda part: base64.urlsafe_b64encode(part).rstrip(b"=").decode()  # noqa: E731
    signing_input = encode(json.dumps(header).encode()) + "." + encode(json.dumps(claims).encode())
    import hashlib
    import hmac

    mac = hmac.new(issuer_for_tests().public_pem().encode(), signing_input.encode(), hashlib.sha256)
    return signing_input + "." + encode(mac.digest())


REFUSED = {
    "expired": lambda: token("frontline-li", ttl=timedelta(minutes=-5)),
    "wrong audience": lambda: token("frontline-li", audience="another-app"),
    "wrong issuer": lambda: token("frontline-li", issuer="https://evil.example"),
    "wrong signature": lambda: forged(),
    "tampered claims": tampered,
    "unsigned": unsigned,
    "hmac with the public key": hmac_with_public_key,
    "garbage": lambda: "not.a.token",
    "unknown key": lambda: Issuer.generate(ISSUER, AUDIENCE).mint("admin-ops", roles=["admin"]),
}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_ops_api_takes_the_issuers_tokens_and_refuses_bad_ones(service, databases):
    _, _, _, method, path, person, ok = SERVICES[service]
    async with client_of(service, databases, **auth_settings()) as client:

        async def call(headers: dict[str, str] | None = None) -> httpx.Response:
            return await client.request(method, path, headers=headers or {}, json={})

        assert (await call()).status_code == 401
        answer = await call(bearer(person))
        assert answer.status_code == ok, answer.text
        for why, make in REFUSED.items():
            refused = await call({"Authorization": f"Bearer {make()}"})
            assert refused.status_code == 401, (why, refused.text)
            assert refused.headers["www-authenticate"].startswith("Bearer")
        # A person without any role the platform knows is let in by nobody.
        assert (await call(bearer(person, roles=["janitor"]))).status_code == 403


async def test_reasons_name_the_problem_and_never_echo_the_token(databases):
    async with client_of("escalation", databases, **auth_settings()) as client:
        bad = token("frontline-li", ttl=timedelta(minutes=-5))
        answer = await client.get("/cases", headers={"Authorization": f"Bearer {bad}"})
        assert answer.json()["detail"] == "the token has expired"
        assert bad not in answer.text and bad[-8:] not in answer.text
        wrong = token("frontline-li", audience="x")
        answer = await client.get("/cases", headers={"Authorization": f"Bearer {wrong}"})
        assert answer.json()["detail"] == "the token is for another audience"


async def test_roles_rank_and_come_from_the_directory_when_the_token_has_none(databases):
    async with client_of("escalation", databases, **auth_settings()) as client:
        stats = "/stats/sla"
        assert (await client.get(stats, headers=bearer("frontline-li"))).status_code == 403
        assert (await client.get(stats, headers=bearer("lead-zhang"))).status_code == 403
        for person in ("duty-wang", "relations-chen", "manager-liu", "exec-zhao", "admin-ops"):
            assert (await client.get(stats, headers=bearer(person))).status_code == 200, person
        # No roles claim: the directory's roles (a supervisor).
        bare = issuer_for_tests().mint("duty-wang")
        answer = await client.get(stats, headers={"Authorization": f"Bearer {bare}"})
        assert answer.status_code == 200
        me = await client.get("/directory/me", headers={"Authorization": f"Bearer {bare}"})
        assert me.json()["name"] == "Wang Fang"


async def test_ops_tokens_name_people_of_the_directory(databases):
    dev = {"ops_tokens": "duty-wang:dev-token-of-wang"}
    async with client_of("escalation", databases, **dev) as client:
        ok = await client.get("/stats/sla", headers={"Authorization": "Bearer dev-token-of-wang"})
        assert ok.status_code == 200
        me = await client.get(
            "/directory/me", headers={"Authorization": "Bearer dev-token-of-wang"}
        )
        assert me.json()["id"] == "duty-wang"
        assert (
            await client.get("/cases", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
    with pytest.raises(ValueError, match="'supervisor' is not a person"):
        escalation_app(EscalationSettings(ops_tokens="supervisor:T1"))


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/.well-known/jwks.json"
    finally:
        server.should_exit = True
        await task


async def test_keys_from_a_jwks_url_follow_a_key_rotation():
    old, new = Issuer.generate(ISSUER, AUDIENCE), Issuer.generate(ISSUER, AUDIENCE)
    current = {"issuer": old}
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def keys() -> dict:
        return current["issuer"].jwks()

    async with serving(app) as url:
        verifier = JwtVerifier(
            RemoteJwks(url, min_refresh=0), issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"]
        )
        assert (await verifier.verify(old.mint("lead-zhang"))).subject == "lead-zhang"
        current["issuer"] = new  # the provider rotates its key: an unknown kid refreshes
        assert (await verifier.verify(new.mint("duty-wang"))).subject == "duty-wang"


async def test_the_dev_issuer_app_serves_its_jwks_and_configuration():
    issuer = Issuer.generate(ISSUER, AUDIENCE)
    async with serving(jwks_app(issuer, "http://x/jwks")) as url, httpx.AsyncClient() as http:
        assert (await http.get(url)).json() == issuer.jwks()
        config = (await http.get(url.replace("jwks.json", "openid-configuration"))).json()
        assert config["issuer"] == ISSUER and config["jwks_uri"] == "http://x/jwks"
