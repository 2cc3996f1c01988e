"""The console in real headless Chromium, against the real services as processes.

Staff sign in through OpenID Connect (authorization code + PKCE) with the development issuer
as the provider, a real process (``python -m shared.dev_issuer serve``); a tampered state,
nonce or PKCE challenge and a replayed callback are refused. A supervisor finds the breached
case at the top of the queue and hands it over; the assignee acknowledges (once: the second
time escalation's 409 is shown in words); the timeline names each person; a check-up call
taken from the queue, not satisfied, reopens the case. A customer answers the survey from the
link on a phone-sized screen, "dissatisfied" with a factor: the remedial call-back appears in
the call-back desk's queue, and the same link then says it was answered. The main flows work
by keyboard alone (every action reached by Tab, in the page's order; forms sent with Enter).
The embeddable form files one complaint on a double click, and shows intake's rejection
reason."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from shared.events.envelope import new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.topics import Topics
from shared.events.versions import token_sha256
from shared.messaging.admin import ensure_topics
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.e2e.test_followup import produce
from tests.support.browser import TIMEOUT_MS, browser, serious_violations
from tests.support.dev_provider import DevProvider, start_dev_provider
from tests.support.processes import ServiceProcess, free_port
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
    provider: DevProvider
    topics: Topics


@pytest.fixture
async def stack(start_service, servers, topics, tmp_path) -> AsyncIterator[Stack]:
    # Topics of this stack alone: complaints other tests left breached on the run's topics
    # would otherwise top the queue.
    own = Topics(f"{topics.prefix}console-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, own.all(), partitions=3)
    prefix = {"KAFKA_TOPIC_PREFIX": own.prefix}
    (tmp_path / "policy.yaml").write_text(POLICY)
    intake = await start_service("intake", **prefix)
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml"), **prefix
    )
    (tmp_path / "followup.yaml").write_text(FOLLOWUP_POLICY)
    followup = await start_service(
        "followup", FOLLOWUP_POLICY_FILE=str(tmp_path / "followup.yaml"), **prefix
    )
    satisfaction = await start_service("satisfaction", **prefix)
    # The console signs people in through the development issuer as its OpenID Connect
    # provider, holding the test issuer's key: the services trust its access tokens.
    port = free_port()
    provider = await asyncio.to_thread(start_dev_provider, tmp_path / "provider", port)
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
            **provider.console_env(),
        },
        port=port,
    )
    try:
        await asyncio.to_thread(console.start)
        yield Stack(console.url, intake.url, escalation.url, satisfaction.url, provider, own)
    finally:
        console.stop()
        provider.stop()


SIGN_IN = "Sign in with the development provider"


async def sign_in(page: Page, console: str, name: str) -> None:
    """Through the provider: the console's sign-in page, the provider's list of the demo
    staff, back to the console with the code."""
    await page.goto(f"{console}/signin")
    await page.get_by_role("link", name=SIGN_IN).click()
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
        await page.get_by_role("link", name=SIGN_IN).click()
        # The development provider's page: checked once it is there, not while the click's
        # navigation is under way (the check would find no document to inject itself in).
        person = page.get_by_role("button", name="Wang Fang", exact=True)
        await expect(person).to_be_visible()
        assert await serious_violations(page) == []
        await person.click()
        await expect(page.get_by_role("heading", name="My work")).to_be_visible()
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


async def test_a_dissatisfied_survey_answer_on_a_phone_brings_a_remedial_call_back(stack, servers):
    complaint_id, survey_id = uuid.uuid4(), uuid.uuid4()
    token = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    # What follow-up and the notification service publish when a resolution is confirmed.
    await produce(servers.kafka_bootstrap, stack.topics.followup, [new_event(
        "/e2e/followup", str(complaint_id), SurveyRequested(
            survey_id=survey_id, complaint_id=complaint_id, callback_id=uuid.uuid4(), cycle=1,
            customer={"name": "Li Na", "phone": "+86 138 0013 8000"}, requested_at=now,
            reason=SurveyReason.SATISFIED,
        ),
    )])  # fmt: skip
    await produce(servers.kafka_bootstrap, stack.topics.notify, [new_event(
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
        # By keyboard: every level group, factor, the comment and the button, in order.
        expected, reached = await tab_order(page)
        assert reached == expected and len(reached) > 8
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

        # "Dissatisfied": follow-up schedules a remedial call-back, which the call-back desk
        # (Li Wei) finds in the queue, with the level and the factor as the reason.
        desk = await chromium.new_context(viewport={"width": 1280, "height": 900})
        desk.set_default_timeout(TIMEOUT_MS)
        page = await desk.new_page()
        await sign_in(page, stack.console, "Li Wei")
        row = page.locator(f"tr[data-complaint='{complaint_id}']")

        async def remedial_listed():
            await page.goto(f"{stack.console}/work")
            return await row.count() > 0

        await eventually(remedial_listed, timeout=60)
        await expect(row).to_contain_text("remedial")
        await expect(row).to_contain_text("dissatisfied")
        await expect(row).to_contain_text("speed")
        await row.get_by_role("link").click()
        await expect(page.get_by_role("heading", name=re.compile("^Call-back"))).to_be_visible()
        # The call-back page by keyboard: every control reached in order; taken with Enter.
        expected, reached = await tab_order(page)
        assert reached == expected
        await tab_to(page, page.locator("form[data-action=take] button"))
        await page.keyboard.press("Enter")
        await expect(page.locator("#callback-assignee")).to_have_text("Li Wei")
        await desk.close()


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


async def test_staff_sign_in_through_the_provider_state_nonce_and_pkce_checked(stack):
    """The authorization code flow with PKCE, end to end in Chromium; whatever is changed on
    the way (state, nonce, code challenge) or replayed is refused, and nobody is signed in."""
    async with browser() as chromium:
        context = await chromium.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        callbacks: list[str] = []
        page.on("request", lambda r: callbacks.append(r.url) if "/auth/callback" in r.url else None)

        # Signed out, a staff page sends to the sign-in, which comes back to it afterwards.
        await page.goto(f"{stack.console}/overview")
        await expect(page).to_have_url(re.compile(r"/signin\?next=/overview$"))
        await page.get_by_role("link", name=SIGN_IN).click()
        await expect(page).to_have_url(re.compile(f"^{re.escape(stack.provider.url)}/authorize"))
        for field in ("state", "nonce", "code_challenge"):
            assert await page.locator(f"input[name={field}]").first.get_attribute("value")
        await page.get_by_role("button", name="Wang Fang", exact=True).click()
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await page.get_by_role("button", name="Sign out").click()

        # The callback again (the code and state of a finished sign-in): refused.
        assert len(callbacks) == 1
        await page.goto(callbacks[0])
        await expect(page.get_by_role("alert")).to_contain_text("mismatching_state")
        await page.goto(f"{stack.console}/work")
        await expect(page).to_have_url(re.compile("/signin"))

        async def tampered(field: str, value: str, why: str) -> None:
            await page.goto(f"{stack.console}/signin")
            await page.get_by_role("link", name=SIGN_IN).click()
            await page.locator(f"input[name={field}]").evaluate_all(
                "(inputs, value) => inputs.forEach(i => { i.value = value; })", value
            )
            await page.get_by_role("button", name="Wang Fang", exact=True).click()
            await expect(page.get_by_role("alert")).to_contain_text(why)
            await page.goto(f"{stack.console}/work")
            await expect(page).to_have_url(re.compile("/signin"))

        # Not the state this session started.
        await tampered("state", "forged-state", "mismatching_state")
        # The ID token carries another nonce than the one the console sent.
        await tampered("nonce", "forged-nonce", "the ID token was refused")
        # Another code challenge: the console's verifier no longer matches it.
        await tampered(
            "code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "invalid_grant"
        )
        await context.close()


async def tab_order(page: Page) -> tuple[list[str], list[str]]:
    """Every control a keyboard can reach on the page in document order (a radio group
    counts once), and the controls Tab actually reached, in the order it reached them."""
    expected = await page.evaluate(
        """() => {
            const seen = new Set(), keys = [];
            const all = document.querySelectorAll(
                "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]");
            all.forEach((el, i) => {
                const style = getComputedStyle(el);
                if (el.disabled || el.tabIndex < 0 || style.visibility === "hidden"
                    || el.getClientRects().length === 0) return;
                const key = el.type === "radio" ? "radio:" + el.name : "kb" + i;
                el.dataset.kb = key;
                if (!seen.has(key)) { seen.add(key); keys.push(key); }
            });
            return keys;
        }"""
    )
    reached: list[str] = []
    for _ in range(2 * len(expected) + 20):
        await page.keyboard.press("Tab")
        key = await page.evaluate("() => document.activeElement?.dataset?.kb || null")
        if reached and key == reached[-1]:
            continue  # a date and time field: Tab steps through its parts
        if key is None or key in reached:
            break
        reached.append(key)
    return expected, reached


async def tab_to(page: Page, target, limit: int = 300) -> None:
    """Press Tab until ``target`` has the focus."""
    for _ in range(limit):
        if await target.evaluate("el => el === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


async def test_the_main_flows_work_by_keyboard_alone(stack):
    async with httpx.AsyncClient(timeout=15) as http:
        posted = await http.post(
            f"{stack.intake}/complaints",
            json={
                "customer": {"name": "Sun Li", "phone": "+86 137 5555 0202", "tier": "C"},
                "category": "delivery",
                "description": "The parcel came open.",
            },
            headers={"X-API-Key": INTAKE_KEYS["hotline"]},
        )
        assert posted.status_code == 201, posted.text
        cid = posted.json()["complaint_id"]

        async def opened():
            found = await http.get(f"{stack.escalation}/cases/{cid}", headers=SUPERVISOR)
            return found.status_code == 200

        await eventually(opened, timeout=60)

    async with browser() as chromium:
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()

        # Sign in: Tab to the link, Enter; at the provider, Tab to a person, Enter.
        await page.goto(f"{stack.console}/signin")
        expected, reached = await tab_order(page)
        assert reached == expected
        await page.goto(f"{stack.console}/signin")
        await tab_to(page, page.get_by_role("link", name=SIGN_IN))
        await page.keyboard.press("Enter")
        await tab_to(page, page.get_by_role("button", name="Wang Fang", exact=True))
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="My work")).to_be_visible()

        # My work: every filter, link and button in order; the filters sent with Enter.
        expected, reached = await tab_order(page)
        assert reached == expected and len(reached) > 8
        await tab_to(page, page.get_by_role("button", name="Filter"))
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(r"/work\?"))
        await tab_to(page, page.locator(f"tr[data-case='{cid}'] a"))
        await page.keyboard.press("Enter")
        await expect(page.locator("#case-status")).to_have_text("open")

        # The case: every action reachable in order; a button by Enter, a text field's form
        # sent by Enter in the field.
        expected, reached = await tab_order(page)
        assert reached == expected
        await tab_to(page, page.locator("form[data-action=acknowledge] button"))
        await page.keyboard.press("Enter")
        await expect(page.locator("#case-status")).to_have_text("acknowledged")
        await tab_to(page, page.locator("form[data-action=pause]").get_by_label("Reason"))
        await page.keyboard.type("The customer is abroad until Monday.")
        await page.keyboard.press("Enter")
        await expect(page.locator("#case-status")).to_have_text("paused")

        # The overview and the language switch, by keyboard too.
        await tab_to(page, page.get_by_role("link", name="Overview"))
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expected, reached = await tab_order(page)
        assert reached == expected
        await tab_to(page, page.get_by_role("button", name="中文"))
        await page.keyboard.press("Enter")
        await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await context.close()
