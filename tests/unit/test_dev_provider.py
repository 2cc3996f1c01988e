"""The development issuer as an OpenID Connect provider (``shared/dev_issuer/provider.py``):
what it refuses. The whole flow with the console runs in Chromium in
``tests/e2e/test_console.py``."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from fastapi.testclient import TestClient

from shared.dev_issuer import Issuer
from shared.dev_issuer.provider import Client, Provider, provider_app
from shared.directory import DEMO_DIRECTORY, load_directory

REDIRECT = "http://127.0.0.1:8000/auth/callback"
SECRET = "a-development-client-secret"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer.generate("http://idp.test", "complaint-platform")


@pytest.fixture
def http(issuer: Issuer) -> TestClient:
    provider = Provider(
        issuer,
        "http://idp.test",
        {"console": Client("console", SECRET, (REDIRECT,))},
        load_directory(DEMO_DIRECTORY),
    )
    return TestClient(provider_app(provider), base_url="http://idp.test")


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(http: TestClient, verifier: str, **changed: str) -> dict[str, str]:
    params = {
        "client_id": "console",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        **changed,
    }
    return params


def code_for(http: TestClient, verifier: str, person: str = "duty-wang") -> str:
    page = http.get("/authorize", params=authorize(http, verifier))
    assert page.status_code == 200 and "Wang Fang" in page.text
    fields = {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', page.text)}
    chosen = http.post("/authorize", data={**fields, "person": person}, follow_redirects=False)
    assert chosen.status_code == 303
    location = urlsplit(chosen.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(http: TestClient, code: str, verifier: str, secret: str = SECRET):
    return http.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier},
        auth=("console", secret),
    )  # fmt: skip


def test_discovery_names_the_endpoints_and_pkce(http: TestClient) -> None:
    config = http.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == "http://idp.test"
    assert config["authorization_endpoint"] == "http://idp.test/authorize"
    assert config["token_endpoint"] == "http://idp.test/token"
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_a_code_gives_the_person_s_tokens_once(http: TestClient, issuer: Issuer) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_for(http, verifier)
    answer = exchange(http, code, verifier)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    key = issuer.private_key.public_key()
    access = jwt.decode(tokens["access_token"], key, ["RS256"], audience="complaint-platform")
    assert access["sub"] == "duty-wang" and "supervisor" in access["roles"]
    identity = jwt.decode(tokens["id_token"], key, ["RS256"], audience="console")
    assert identity["nonce"] == "n-1" and identity["iss"] == "http://idp.test"
    # The same code again: refused.
    assert exchange(http, code, verifier).json() == {"error": "invalid_grant"}


def test_the_wrong_verifier_or_client_secret_is_refused(http: TestClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = code_for(http, verifier)
    assert exchange(http, code, verifier, secret="guessed").status_code == 401
    assert exchange(http, code, "another-verifier-" * 3).json() == {"error": "invalid_grant"}
    # A refused attempt used the code up.
    assert exchange(http, code, verifier).json() == {"error": "invalid_grant"}


def test_requests_it_cannot_trust_are_not_redirected(http: TestClient) -> None:
    verifier = secrets.token_urlsafe(48)
    elsewhere = authorize(http, verifier, redirect_uri="https://evil.example/cb")
    page = http.get("/authorize", params=elsewhere, follow_redirects=False)
    assert page.status_code == 400 and "not registered" in page.text
    stranger = authorize(http, verifier, client_id="stranger")
    assert http.get("/authorize", params=stranger, follow_redirects=False).status_code == 400


def test_without_pkce_the_client_hears_why(http: TestClient) -> None:
    plain = authorize(http, "v", code_challenge_method="plain")
    answer = http.get("/authorize", params=plain, follow_redirects=False)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["st-1"]
