"""The console in real headless Chromium, against the real services as processes.

A supervisor signs in, finds the breached case at the top of the queue and hands it over; the
assignee acknowledges (once: the second time escalation's 409 is shown in words); the
timeline names each person. A customer answers the survey from the link on a phone-sized
screen, and the same link then says it was answered. The embeddable form files one
complaint on a double click, and shows intake's rejection reason."""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from playwright.async_api import Page, expect

from shared.events.envelope import new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.versions import token_sha256
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.e2e.test_followup import produce
from tests.support.browser import TIMEOUT_MS, browser, serious_violations
from tests.support.identity import AUDIENCE, ISSUER, issuer_for_tests
from tests.support.processes import ServiceProcess
from tests.support.servers import ROOT
from tests.support.waiting import eventually

DOCS = Path(ROOT) / "services" / "console" / "docs"
SUPERVISOR = {"Authorization": f"Bearer {OPS_TOKENS['supervisor']}"}
# Remote complaints open at the supervisor's rung (Wang Fang's queue); the acknowledgement
# clock runs out in two seconds and does not climb, so the case sits breached in her queue.
POLICY = """
version: "e2e-console"
levels: [frontline, team_lead, supervisor, customer_relations, department_manager,
         executive_office]
ceiling: {general: department_manager, major: executive_office}
warn_at: [0.8]
modes:
  on_site:
    start: {general: frontline, major: supervisor}
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge, escalate: false}
  remote:
    start: {general: supervisor, major: customer_relations}
    clocks:
      acknowledge: {within: 2s, met_by: acknowledge, escalate: false}
      plan: {within: 2d, met_by: plan}
"""

# The check-up call falls due a second after the resolution.
FOLLOWUP_POLICY = """
version: e2e-console
callback:
  after_resolution: 1s
  tier_factors: {VIP: 0.5, A: 0.5}
  major_factor: 0.5
  remedial_after: 0.5s
  overdue_after: 1h
attempts: {max: 3, spacing: [1s]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
"""


@dataclass
class Stack:
    console: str
    intake: str
    escalation: str
    satisfaction: str


@pytest.fixture
async def stack(start_service, servers, topics, tmp_path) -> AsyncIterator[Stack]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    intake = await start_service("intake")
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml")
    )
    (tmp_path / "followup.yaml").write_text(FOLLOWUP_POLICY)
    followup = await start_service("followup", FOLLOWUP_POLICY_FILE=str(tmp_path / "followup.yaml"))
    satisfaction = await start_service("satisfaction")
    # The console signs people in with the test issuer's key (its development sign-in).
    keys = tmp_path / "issuer"
    keys.mkdir()
    pem = issuer_for_tests().private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (keys / "private.pem").write_bytes(pem)
    os.chmod(keys / "private.pem", 0o600)
    console = ServiceProcess(
        "console",
        {
            "CONSOLE_INTAKE_URL": intake.url,
            "CONSOLE_ESCALATION_URL": escalation.url,
            "CONSOLE_FOLLOWUP_URL": followup.url,
            "CONSOLE_SATISFACTION_URL": satisfaction.url,
            # No notification service here: the case page says it did not answer.
            "CONSOLE_NOTIFY_URL": "http://127.0.0.1:9",
            "CONSOLE_INTAKE_API_KEY": INTAKE_KEYS["web"],
            "CONSOLE_DEV_SIGNIN": "true",
            "CONSOLE_DEV_ISSUER_FOLDER": str(keys),
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
        },
    ).start()
    try:
        yield Stack(console.url, intake.url, escalation.url, satisfaction.url)
    finally:
        console.stop()


async def sign_in(page: Page, console: str, name: str) -> None:
    await page.goto(f"{console}/signin")
    await page.get_by_role("button", name=name, exact=True).click()
    await expect(page.get_by_role("heading", name="My work")).to_be_visible()


async def test_supervisor_hands_over_the_breached_case_and_the_assignee_acknowledges(stack):
    async with httpx.AsyncClient(timeout=15) as http:
        posted = await http.post(
            f"{stack.intake}/complaints",
            json={
                "customer": {"name": "Zhou Jie", "phone": "+86 137 5555 0101", "tier": "B"},
                "category": "billing",
                "description": "I was charged twice for one order.",
            },
            headers={"X-API-Key": INTAKE_KEYS["hotline"]},
        )
        assert posted.status_code == 201, posted.text
        cid = posted.json()["complaint_id"]

        async def breached():
            found = await http.get(f"{stack.escalation}/cases/{cid}", headers=SUPERVISOR)
            return found.status_code == 200 and found.json()["breached"]

        await eventually(breached, timeout=60)

    async with browser() as chromium:
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        await sign_in(page, stack.console, "Wang Fang")
        top = page.locator("table.queue tbody tr").first
        await expect(top).to_have_attribute("data-case", cid)
        await expect(top).to_have_class("urgency-breached")
        # countdown.js runs under the page's policy: the deadline becomes the time past it.
        await expect(top.locator("time.countdown")).to_have_text(
            re.compile(r"^-\d+[dhm] \d+[hms]$")
        )
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "queue.png"), full_page=True)
        await top.get_by_role("link").click()
        await expect(page.locator("#case-status")).to_have_text("open")

        handover = page.locator("form[data-action=handover]")
        await handover.get_by_label("To a colleague").select_option(label="Li Wei")
        await handover.get_by_label("Reason").fill("Billing is Li Wei's")
        await handover.get_by_role("button", name="Hand over").click()
        await expect(page.locator("#case-assignee")).to_have_text("Li Wei")
        await page.get_by_role("button", name="Sign out").click()

        await sign_in(page, stack.console, "Li Wei")
        await page.locator(f"tr[data-case='{cid}'] a").click()
        acknowledge = page.locator("form[data-action=acknowledge]")
        await acknowledge.get_by_role("button", name="Acknowledge").click()
        await expect(page.locator("#case-status")).to_have_text("acknowledged")
        # Again: escalation refuses (409), and the page says why in words.
        await page.locator("form[data-action=acknowledge] button").click()
        error = page.locator("#action-error")
        await expect(error).to_be_visible()
        assert "409" not in (await error.inner_text())
        timeline = page.locator("ol.timeline")
        await expect(timeline).to_contain_text("Wang Fang")
        await expect(timeline).to_contain_text("Li Wei")
        await expect(timeline).to_contain_text("Billing is Li Wei's")
        await page.goto(f"{stack.console}/cases/{cid}")
        await page.screenshot(path=str(DOCS / "case.png"), full_page=True)

        # The findings, the plan, then the resolution.
        findings = page.locator("form[data-action=investigate]")
        await findings.get_by_label("Findings").fill("Charged twice by the payment provider.")
        await findings.get_by_role("button").click()
        await expect(page.locator("#case-status")).to_have_text("investigating")
        plan = page.locator("form[data-action=plan]")
        await plan.get_by_label("Plan").fill("Refund the second charge within 3 days.")
        await plan.get_by_role("button").click()
        await expect(page.locator("#case-status")).to_have_text("plan_recorded")
        resolve = page.locator("form[data-action=resolve]")
        await resolve.get_by_label("Resolution").fill("Refunded.")
        await resolve.get_by_role("button").click()
        await expect(page.locator("#case-status")).to_have_text("resolved")

        # The check-up call appears in Li Wei's queue (the call-back desk's); not satisfied,
        # the case is reopened.
        async def call_listed():
            await page.goto(f"{stack.console}/work")
            return await page.locator("a[href^='/callbacks/']").count() > 0

        await eventually(call_listed, timeout=60)
        await page.locator("a[href^='/callbacks/']").first.click()
        await page.locator("form[data-action=take] button").click()
        await expect(page.locator("#callback-assignee")).to_have_text("Li Wei")
        outcome = page.locator("form[data-action=outcome]")
        await outcome.get_by_label("Reached, not satisfied").check()
        await outcome.get_by_label("The customer's words").fill("The refund never arrived.")
        await outcome.get_by_role("button").click()
        await expect(page.locator(".done")).to_be_visible()

        async def reopened():
            await page.goto(f"{stack.console}/cases/{cid}")
            return (await page.locator("#case-status").inner_text()) == "reopened"

        await eventually(reopened, timeout=60)
        await context.close()

        # The staff pages pass axe-core's WCAG 2 A/AA rules (serious and critical).
        checked = await chromium.new_context(bypass_csp=True)
        checked.set_default_timeout(TIMEOUT_MS)
        page = await checked.new_page()
        await page.goto(f"{stack.console}/signin")
        assert await serious_violations(page) == []
        await sign_in(page, stack.console, "Wang Fang")
        assert await serious_violations(page) == []
        await page.goto(f"{stack.console}/cases/{cid}")
        assert await serious_violations(page) == []
        # The supervisor's overview: the case is open and breached today.
        await page.get_by_role("link", name="Overview").click()
        await expect(page.locator("#breaches-today")).not_to_have_text("0")
        await expect(page.locator("#open-cases")).to_have_text("1")
        assert await serious_violations(page) == []
        await page.screenshot(path=str(DOCS / "overview.png"), full_page=True)
        await checked.close()


async def test_a_customer_answers_the_survey_on_a_phone_once(stack, servers, topics):
    complaint_id, survey_id = uuid.uuid4(), uuid.uuid4()
    token = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    # What follow-up and the notification service publish when a resolution is confirmed.
    await produce(servers.kafka_bootstrap, topics.followup, [new_event(
        "/e2e/followup", str(complaint_id), SurveyRequested(
            survey_id=survey_id, complaint_id=complaint_id, callback_id=uuid.uuid4(), cycle=1,
            customer={"name": "Li Na", "phone": "+86 138 0013 8000"}, requested_at=now,
            reason=SurveyReason.SATISFIED,
        ),
    )])  # fmt: skip
    await produce(servers.kafka_bootstrap, topics.notify, [new_event(
        "/e2e/notify", str(complaint_id), SurveyInvited(
            survey_id=survey_id, complaint_id=complaint_id, token_sha256=token_sha256(token),
            expires_at=now + timedelta(days=14), at=now,
        ),
    )])  # fmt: skip
    async with httpx.AsyncClient(timeout=15) as http:

        async def known():
            found = await http.get(f"{stack.satisfaction}/surveys/{token}")
            return found.status_code == 200 and found.json()["status"] == "open"

        await eventually(known, timeout=60)

    async with browser() as chromium:
        phone = await chromium.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
            java_script_enabled=False,
        )  # fmt: skip
        phone.set_default_timeout(TIMEOUT_MS)
        checked = await chromium.new_context(viewport={"width": 390, "height": 844},
                                             bypass_csp=True)  # fmt: skip
        page = await checked.new_page()
        await page.goto(f"{stack.console}/surveys/{token}")
        assert await serious_violations(page) == []
        await checked.close()

        page = await phone.new_page()
        await page.goto(f"{stack.console}/surveys/{token}")
        # By keyboard: a level, once focused, is chosen with Space.
        await page.get_by_label("Very satisfied: I would buy from you again").focus()
        await page.keyboard.press("Space")
        await expect(
            page.get_by_label("Very satisfied: I would buy from you again")
        ).to_be_checked()
        await page.get_by_label("Dissatisfied", exact=True).check()
        await page.get_by_label("How quickly it was handled").check()
        await page.get_by_label("Anything you would like to tell us?").fill("Far too slow.")
        await page.screenshot(path=str(DOCS / "survey-phone.png"), full_page=True)
        await page.get_by_role("button", name="Send my answer").click()
        await expect(page.locator("#survey-state")).to_have_attribute("data-state", "thanks")
        await page.goto(f"{stack.console}/surveys/{token}")
        await expect(page.locator("#survey-state")).to_have_attribute("data-state", "answered")
        await phone.close()


async def test_the_embedded_form_files_one_complaint_on_a_double_click(stack):
    description = f"The delivery never came ({uuid.uuid4().hex[:8]})."
    async with browser() as chromium:
        checked = await chromium.new_context(bypass_csp=True)
        page = await checked.new_page()
        await page.goto(f"{stack.console}/embed/complaint")
        assert await serious_violations(page) == []
        await checked.close()

        context = await chromium.new_context(viewport={"width": 600, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        await page.goto(f"{stack.console}/embed/complaint")
        await page.get_by_label("Your name").fill("Chen Ming")
        await page.get_by_label("Phone").fill("+86 139 0000 1111")
        await page.get_by_label("What is it about?").select_option("delivery")
        await page.get_by_label("What happened?").fill(description)
        await page.get_by_role("button", name="Send").dblclick()
        answer = page.locator("#complaint-answer")
        await expect(answer).to_have_attribute("data-status", "received")
        complaint_id = await answer.get_attribute("data-complaint")

        # A claim for damages is not handled here: intake's reason and other channel shown.
        await page.goto(f"{stack.console}/embed/complaint")
        await page.get_by_label("Your name").fill("Chen Ming")
        await page.get_by_label("Phone").fill("+86 139 0000 1111")
        await page.get_by_label("What happened?").fill("I want damages for my ruined floor.")
        await page.get_by_label("I claim damages").check()
        await page.get_by_role("button", name="Send").click()
        await expect(page.get_by_text("Where to turn instead")).to_be_visible()
        await context.close()

    async with httpx.AsyncClient(timeout=15) as http:
        listed = await http.get(f"{stack.intake}/complaints", params={"channel": "web"},
                                headers={"X-API-Key": INTAKE_KEYS["web"]})  # fmt: skip
        assert listed.status_code == 200, listed.text
        filed = [c for c in listed.json()["items"] if c["description"] == description]
        assert [c["complaint_id"] for c in filed] == [complaint_id]
