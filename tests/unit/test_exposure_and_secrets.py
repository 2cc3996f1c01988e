"""Configuration of what a service exposes (docs, OpenAPI, metrics) and of its secrets:
production refuses placeholders, secrets never print, and every OpenAPI document lists the
statuses each operation can answer. The apps are built in-process; nothing here reaches a
database (these routes need none)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

import httpx
import pytest
from pydantic import ValidationError

from services.escalation.app import create_app as escalation_app
from services.escalation.settings import EscalationSettings
from services.followup.app import create_app as followup_app
from services.followup.settings import FollowupSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.satisfaction.app import create_app as satisfaction_app
from services.satisfaction.settings import SatisfactionSettings
from shared.web.metrics import metrics_port_task
from tests.support.processes import free_port
from tests.support.servers import ROOT
from tests.support.waiting import eventually

STRONG = "s3cr3t-" + "x" * 20
STRONG_DB = "postgresql://complaints:a-long-db-password@db/intake"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("ENVIRONMENT", "APP_ENV", "METRICS_TOKEN", "OPS_TOKENS", "INTAKE_API_KEYS"):
        monkeypatch.delenv(name, raising=False)


def production(**values) -> IntakeSettings:
    strong = {
        "api_keys": f"web:{STRONG}",
        "ops_tokens": f"frontline-li:{STRONG}",
        "database_url": STRONG_DB,
        "metrics_token": STRONG,
    }
    return IntakeSettings(environment="production", **(strong | values))


async def get(app, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_development_serves_docs_and_metrics_to_anyone():
    app = intake_app(IntakeSettings(api_keys="web:k"))
    for path in ("/docs", "/openapi.json", "/metrics"):
        assert (await get(app, path)).status_code == 200, path


async def test_production_puts_docs_behind_an_ops_token_and_metrics_behind_their_own():
    app = intake_app(production())
    assert (await get(app, "/openapi.json")).status_code == 401
    assert (await get(app, "/docs")).status_code == 401
    assert (await get(app, "/openapi.json", STRONG)).json()["paths"]
    assert (await get(app, "/docs", STRONG)).status_code == 200
    assert (await get(app, "/metrics")).status_code == 401
    assert (await get(app, "/metrics", "wrong-token-of-some-length")).status_code == 401
    assert (await get(app, "/metrics", STRONG)).status_code == 200


async def test_docs_and_metrics_can_be_switched_off():
    app = intake_app(production(docs="off", metrics="off"))
    for path in ("/docs", "/openapi.json", "/redoc", "/metrics"):
        assert (await get(app, path, STRONG)).status_code == 404, path


def test_production_with_a_metrics_port_keeps_metrics_off_the_api_port():
    settings = IntakeSettings(
        environment="production",
        api_keys=f"web:{STRONG}",
        database_url=STRONG_DB,
        metrics_port=9101,
    )
    assert settings.metrics == "off" and settings.docs == "protected"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"api_keys": "web:change-me"}, "api_keys entry 1 (web) is a placeholder"),
        ({"api_keys": "web:short"}, "api_keys entry 1 (web) is shorter than 16"),
        ({"ops_tokens": "frontline-li:"}, "ops_tokens"),
        ({"metrics_token": "change-me"}, "metrics_token is a placeholder"),
        ({"metrics_token": ""}, "metrics_token is empty"),
        ({"database_url": "postgresql://u:complaints@db/x"}, "database_url holds a placeholder"),
        ({"database_url": "postgresql://u:pw@db/x"}, "database_url holds a password shorter"),
    ],
)
def test_production_refuses_placeholder_secrets_naming_them_not_showing_them(values, named):
    with pytest.raises(ValidationError) as caught:
        production(**values)
    message = "; ".join(e["msg"] for e in caught.value.errors())
    assert named in message
    assert "change-me" not in message and "complaints@" not in message


def test_development_takes_any_secret_and_never_prints_one():
    settings = IntakeSettings(api_keys="web:change-me", ops_tokens="frontline-li:x")
    assert settings.credentials() == [("web", "change-me")]
    shown = repr(settings) + str(settings.model_dump())
    assert "change-me" not in shown and "complaints:complaints" not in shown


def test_a_service_in_production_with_placeholders_exits_2_naming_the_setting():
    env = {"PATH": "/usr/bin:/bin", "ENVIRONMENT": "production", "INTAKE_API_KEYS": "web:change-me"}
    done = subprocess.run(
        [sys.executable, "-m", "services.intake", "migrate"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "intake: invalid configuration" in done.stderr and "api_keys" in done.stderr
    assert "change-me" not in done.stderr


APPS = [
    lambda: intake_app(IntakeSettings(api_keys="web:k")),
    lambda: escalation_app(EscalationSettings()),
    lambda: followup_app(FollowupSettings()),
    lambda: satisfaction_app(SatisfactionSettings()),
]


@pytest.mark.parametrize("build", APPS, ids=["intake", "escalation", "followup", "satisfaction"])
def test_every_operation_documents_what_its_shape_can_answer(build):
    document = build().openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            params = operation.get("parameters", [])
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, (method, path)
            if params:
                assert "422" in codes, (method, path)
            if any(p["in"] == "path" for p in params):
                assert "404" in codes, (method, path)
            if any(p["name"].lower() in {"authorization", "x-api-key"} for p in params):
                assert {"401", "403"} <= codes, (method, path)
            if path != "/healthz":
                assert "503" in codes, (method, path)
            for code, answer in operation["responses"].items():
                assert answer.get("description"), (method, path, code)


async def test_metrics_on_their_own_port_until_the_app_stops():
    port = free_port()
    settings = IntakeSettings(api_keys="web:k", metrics_port=port)
    stop = asyncio.Event()
    serving = asyncio.create_task(metrics_port_task(settings)(stop))
    async with httpx.AsyncClient() as client:

        async def scraped():
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get(f"http://127.0.0.1:{port}/metrics")
                return answer.status_code == 200 and "python_info" in answer.text
            return None

        assert await eventually(scraped)
        stop.set()
        await asyncio.wait_for(serving, 10)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/metrics")
