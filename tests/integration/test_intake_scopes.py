"""Intake's API keys and their scopes, every key against every operation: the app in process
(httpx over ASGI) on a fresh real database."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import ValidationError

from services.intake.app import create_app
from services.intake.domain.access import CHANNEL_DEFAULT_SCOPES, Scope, parse_api_keys
from services.intake.settings import IntakeSettings

KEYS = {
    "web": "web:k-web",
    "hotline": "hotline:k-hotline",
    "crm": "crm[read-all,tier]:k-crm",
    "auditor": "auditor[read-all]:k-auditor",
    "kiosk": "counter[submit]:k-kiosk",  # submits, reads nothing
}


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name].rsplit(":", 1)[1]}


@pytest.fixture
async def intake(databases):
    url = await databases.create("intake")
    settings = IntakeSettings(
        database_url=url, api_keys=",".join(KEYS.values()), kafka_topic_prefix="it-scopes."
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield client
    await app.state.runtime.engine.dispose()


def body(customer: str, **customer_fields) -> dict:
    return {
        "customer": {"id": customer, "name": "Li Na", "tier": "B"} | customer_fields,
        "category": "delivery",
        "description": "The parcel never came.",
    }


async def submit(client, name: str, customer: str, **fields) -> str:
    response = await client.post("/complaints", json=body(customer, **fields), headers=key(name))
    assert response.status_code == 201, response.text
    return response.json()["complaint_id"]


def test_key_syntax_defaults_and_errors():
    web, crm = parse_api_keys("web:K1, crm[read-all, tier]:K:2")
    assert web.client.scopes == CHANNEL_DEFAULT_SCOPES and web.client.channel == "web"
    assert crm.client.scopes == {Scope.READ_ALL, Scope.TIER} and crm.client.channel is None
    assert crm.secret.get_secret_value() == "K:2"
    assert "K:2" not in repr(crm)
    for spec, problem in [
        ("pigeon:K", "unknown channel"),
        ("crm[read-everything]:K", "unknown scope 'read-everything'"),
        ("crm[submit]:K", "not a channel"),
        ("crm[]:K", "no scopes"),
        ("web[read-all:K", "unclosed"),
        ("web=K", "expected name:secret"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_api_keys(spec)
    with pytest.raises(ValidationError, match="INTAKE_API_KEYS"):
        IntakeSettings(api_keys="crm[read-everything]:K")


def test_production_checks_each_scoped_key_for_placeholders():
    from tests.unit.test_exposure_and_secrets import STRONG, production

    spec = f"web:{STRONG},crm[read-all,tier]:{STRONG}"
    assert len(production(api_keys=spec).api_key_list()) == 2
    with pytest.raises(ValidationError, match=r"api_keys entry 2 \(crm\) is a placeholder"):
        production(api_keys=f"web:{STRONG},crm[read-all,tier]:change-me")


async def test_unknown_or_missing_keys_are_401_everywhere(intake):
    cid = str(uuid.uuid4())
    for headers in ({}, {"X-API-Key": "nope"}):
        assert (
            await intake.post("/complaints", json=body("c"), headers=headers)
        ).status_code == 401
        assert (await intake.get("/complaints", headers=headers)).status_code == 401
        assert (await intake.get(f"/complaints/{cid}", headers=headers)).status_code == 401
        patched = await intake.patch(f"/complaints/{cid}/customer", json={}, headers=headers)
        assert patched.status_code == 401


async def test_submitting_needs_a_channel_key_with_submit(intake):
    customer = f"c-{uuid.uuid4().hex[:6]}"
    for name in ("web", "hotline", "kiosk"):
        await submit(intake, name, customer)
    for name in ("crm", "auditor"):
        refused = await intake.post("/complaints", json=body(customer), headers=key(name))
        assert refused.status_code == 403 and "submit scope" in refused.json()["detail"]


async def test_a_channel_reads_what_it_submitted_and_nothing_else(intake):
    customer = f"c-{uuid.uuid4().hex[:6]}"
    web_id = await submit(intake, "web", customer, phone="138 0013 8000")
    hotline_id = await submit(intake, "hotline", customer, phone="138 0013 8000")

    own = await intake.get(f"/complaints/{web_id}", headers=key("web"))
    assert own.status_code == 200 and own.json()["customer"]["phone"] == "138 0013 8000"
    # Another channel's complaint does not exist for this key: 404 like an unknown id.
    other = await intake.get(f"/complaints/{hotline_id}", headers=key("web"))
    unknown = await intake.get(f"/complaints/{uuid.uuid4()}", headers=key("web"))
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()

    listed = await intake.get("/complaints", params={"customer": customer}, headers=key("web"))
    assert [i["complaint_id"] for i in listed.json()["items"]] == [web_id]
    listed = await intake.get("/complaints", params={"customer": customer}, headers=key("hotline"))
    assert [i["complaint_id"] for i in listed.json()["items"]] == [hotline_id]
    asked = await intake.get("/complaints", params={"channel": "hotline"}, headers=key("web"))
    assert asked.status_code == 403 and "read-all scope" in asked.json()["detail"]
    mine = await intake.get("/complaints", params={"channel": "web"}, headers=key("web"))
    assert mine.status_code == 200

    # A key that only submits reads nothing, not even its own.
    kiosk_id = await submit(intake, "kiosk", customer)
    for path in (f"/complaints/{kiosk_id}", "/complaints"):
        refused = await intake.get(path, headers=key("kiosk"))
        assert refused.status_code == 403 and "read-own or read-all" in refused.json()["detail"]


async def test_read_all_reads_every_channel(intake):
    customer = f"c-{uuid.uuid4().hex[:6]}"
    ids = {await submit(intake, name, customer) for name in ("web", "hotline", "kiosk")}
    for name in ("crm", "auditor"):
        listed = await intake.get("/complaints", params={"customer": customer}, headers=key(name))
        assert {i["complaint_id"] for i in listed.json()["items"]} == ids
        for cid in ids:
            assert (await intake.get(f"/complaints/{cid}", headers=key(name))).status_code == 200
        by_channel = await intake.get(
            "/complaints", params={"customer": customer, "channel": "hotline"}, headers=key(name)
        )
        assert len(by_channel.json()["items"]) == 1


async def test_contact_data_is_completed_by_the_channel_that_submitted_it(intake):
    customer = f"c-{uuid.uuid4().hex[:6]}"
    web_id = await submit(intake, "web", customer)  # no phone or e-mail: awaiting information
    path = f"/complaints/{web_id}/customer"
    phone = {"phone": "021-6543 2100"}

    assert (await intake.patch(path, json=phone, headers=key("hotline"))).status_code == 404
    for name in ("crm", "auditor"):  # readers, not submitters: contact data is not theirs
        refused = await intake.patch(path, json=phone, headers=key(name))
        assert refused.status_code == 403 and "submit scope" in refused.json()["detail"]
    shown = (await intake.get(f"/complaints/{web_id}", headers=key("crm"))).json()
    assert shown["status"] == "awaiting_information" and shown["customer"].get("phone") is None

    done = await intake.patch(path, json=phone, headers=key("web"))
    assert done.status_code == 200 and done.json()["status"] == "received"


async def test_changing_a_tier_needs_the_tier_scope(intake):
    customer = f"c-{uuid.uuid4().hex[:6]}"
    web_id = await submit(intake, "web", customer)
    path = f"/complaints/{web_id}/customer"

    for name in ("web", "hotline", "auditor", "kiosk"):
        refused = await intake.patch(path, json={"tier": "VIP"}, headers=key(name))
        assert refused.status_code == 403 and "tier scope" in refused.json()["detail"]
    # Tier and contact data at once: the tier scope does not grant the contact data.
    mixed = await intake.patch(
        path, json={"tier": "VIP", "phone": "1390024480"}, headers=key("crm")
    )
    assert mixed.status_code == 403 and "submit scope" in mixed.json()["detail"]

    changed = await intake.patch(path, json={"tier": "VIP"}, headers=key("crm"))
    assert changed.status_code == 200, changed.text
    assert changed.json()["customer"]["tier"] == "VIP"
    shown = (await intake.get(f"/complaints/{web_id}", headers=key("web"))).json()
    assert shown["customer"]["tier"] == "VIP" and shown["customer"].get("phone") is None
