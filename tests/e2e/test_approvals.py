"""Authority with real processes (intake and escalation, real Kafka and PostgreSQL, people's
JWTs): a major plan waits for a manager's approval on its own clock, which runs out and
escalates the case; a compensation above the front line's limit is refused without the
approval and goes through with it, the event naming who approved. In the console (headless
Chromium): the plan approved, abuse flagged, service refused and the refusal lifted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import INTAKE_KEYS
from tests.e2e.test_console import sign_in
from tests.e2e.test_escalation import distinct
from tests.support.browser import TIMEOUT_MS, browser, serious_violations
from tests.support.dev_provider import start_dev_provider
from tests.support.identity import as_role
from tests.support.kafka import read_until
from tests.support.processes import ServiceProcess, free_port
from tests.support.waiting import eventually

# The remote clocks of the default policy, with an approval clock of three seconds so it
# runs out during the test (a bound on waiting, not a speed assertion).
POLICY = """
version: "e2e-approvals"
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
    start: {general: frontline, major: customer_relations}
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge}
      investigate: {within: 1d, met_by: investigate}
      plan: {within: 2d, met_by: plan}
approvals:
  plan:
    major: {by: manager, within: 3s}
  compensation:
    currency: CNY
    limits: {agent: 100, team_lead: 300, supervisor: 1000, manager: 20000, executive: null}
  refuse_service_by: supervisor
"""
AGENT, LEAD, SUPERVISOR, MANAGER = (as_role(r) for r in
                                    ("agent", "team_lead", "supervisor", "manager"))  # fmt: skip


async def complaint(http: httpx.AsyncClient, intake: str, severity: str) -> str:
    body = {
        "customer": {"id": "c-77", "name": "Qian Yu", "phone": "+86 139 1234 5678", "tier": "B"},
        "category": "product_quality",
        "description": "The dishwasher floods the kitchen.",
        "severity": severity,
    }
    posted = await http.post(f"{intake}/complaints", json=body,
                             headers={"X-API-Key": INTAKE_KEYS["web"]})  # fmt: skip
    assert posted.status_code == 201, posted.text
    return posted.json()["complaint_id"]


async def worked_to_investigating(http: httpx.AsyncClient, case_url: str) -> None:
    async def opened():
        return (await http.get(case_url, headers=AGENT)).status_code == 200

    await eventually(opened)
    for action, body in (("acknowledge", {}), ("investigate", {"findings": "a split hose"})):
        answer = await http.post(f"{case_url}/{action}", json=body, headers=AGENT)
        assert answer.status_code == 200, (action, answer.text)


async def test_a_major_plan_waits_for_approval_and_its_clock_escalates(
    start_service, servers, topics, tmp_path
):
    (tmp_path / "policy.yaml").write_text(POLICY)
    intake = await start_service("intake")
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml")
    )
    async with httpx.AsyncClient(timeout=15) as http:
        cid = await complaint(http, intake.url, "major")
        case_url = f"{escalation.url}/cases/{cid}"
        await worked_to_investigating(http, case_url)

        drafted = await http.post(f"{case_url}/plan", json={"plan": "a new machine, fitted"},
                                  headers=AGENT)  # fmt: skip
        assert drafted.status_code == 200, drafted.text
        case = drafted.json()
        assert case["status"] == "plan_awaiting_approval" and case["awaiting_approval"]
        assert case["pending_plan"]["approver_role"] == "manager"
        queue = await http.get(f"{escalation.url}/cases", params={"awaiting_approval": "true"},
                               headers=MANAGER)  # fmt: skip
        assert [c["complaint_id"] for c in queue.json()["items"]] == [cid]

        # Not the drafter, not a supervisor: 403 naming the role; a wrong state: 409.
        refused = await http.post(f"{case_url}/approve-plan", headers=SUPERVISOR)
        assert refused.status_code == 403 and "manager" in refused.json()["detail"]
        early = await http.post(f"{case_url}/resolve", json={"resolution": "x"}, headers=AGENT)
        assert early.status_code == 409 and "plan_awaiting_approval" in early.json()["detail"]

        def breached(records) -> bool:
            return any(e["type"] == "case.escalated" and e["data"].get("clock") == "approval"
                       for e in distinct(records))  # fmt: skip

        records = await read_until(servers.kafka_bootstrap, topics.handling, breached,
                                   lambda r: r.key == cid, 60)  # fmt: skip
        events = distinct(records)
        types = [e["type"] for e in events]
        assert "case.plan_submitted" in types and "case.plan_recorded" not in types
        on_approval = [e for e in events if e["data"].get("clock") == "approval"]
        (breach,) = [e["data"] for e in on_approval if e["type"] == "case.sla_breached"]
        (climb,) = [e["data"] for e in on_approval if e["type"] == "case.escalated"]
        assert (climb["from_level"], climb["to_level"]) == (
            "customer_relations", "department_manager"
        )  # fmt: skip
        assert breach["level"] == "customer_relations"

        approved = await http.post(f"{case_url}/approve-plan", headers=MANAGER)
        assert approved.status_code == 200, approved.text
        case = approved.json()
        assert case["status"] == "plan_recorded" and case["pending_plan"] is None
        assert case["approval_wait_seconds"] >= 3
        clocks = {c["name"]: c for c in case["clocks"]}
        assert clocks["approval"]["breached_at"] is not None and clocks["approval"]["met_at"]
        assert clocks["plan"]["state"] == "met"

        def told(records) -> bool:
            return any(e["type"] == "case.plan_recorded" for e in distinct(records))

        records = await read_until(servers.kafka_bootstrap, topics.handling, told,
                                   lambda r: r.key == cid, 30)  # fmt: skip
        (recorded,) = [e["data"] for e in distinct(records) if e["type"] == "case.plan_recorded"]
        assert (recorded["by"], recorded["approved_by"]) == ("frontline-li", "manager-liu")
        assert recorded["approved_by_name"] == "Liu Yang"


async def test_a_compensation_above_the_front_lines_limit_needs_an_approval(
    start_service, servers, topics, tmp_path
):
    (tmp_path / "policy.yaml").write_text(POLICY)
    intake = await start_service("intake")
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml")
    )
    async with httpx.AsyncClient(timeout=15) as http:
        cid = await complaint(http, intake.url, "general")
        case_url = f"{escalation.url}/cases/{cid}"
        await worked_to_investigating(http, case_url)
        resolution = {
            "resolution": "replaced the hose, dried the kitchen",
            "compensation": "a cleaning voucher",
            "compensation_amount": {"amount": "500.00", "currency": "CNY"},
        }
        refused = await http.post(f"{case_url}/resolve", json=resolution, headers=AGENT)
        assert refused.status_code == 403, refused.text
        detail = refused.json()["detail"]
        assert "compensation_amount" in detail and "100 CNY" in detail
        assert "supervisor" in detail and f"/cases/{cid}/request-compensation" in detail
        wrong = await http.post(
            f"{case_url}/resolve",
            json={**resolution, "compensation_amount": {"amount": "5", "currency": "USD"}},
            headers=AGENT,
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["body", "compensation_amount", "currency"]
        assert (await http.get(case_url, headers=AGENT)).json()["status"] == "investigating"

        requested = await http.post(f"{case_url}/request-compensation", json=resolution,
                                    headers=AGENT)  # fmt: skip
        assert requested.status_code == 200, requested.text
        assert requested.json()["compensation_request"]["approver_role"] == "supervisor"
        low = await http.post(f"{case_url}/approve-compensation", headers=LEAD)
        assert low.status_code == 403 and "supervisor" in low.json()["detail"]
        approved = await http.post(f"{case_url}/approve-compensation", headers=SUPERVISOR)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "resolved"

        def resolved(records) -> bool:
            return any(e["type"] == "case.resolved" for e in distinct(records))

        records = await read_until(servers.kafka_bootstrap, topics.handling, resolved,
                                   lambda r: r.key == cid, 30)  # fmt: skip
        events = distinct(records)
        (event,) = [e["data"] for e in events if e["type"] == "case.resolved"]
        assert event["compensation_amount"] == {"amount": "500.00", "currency": "CNY"}
        assert (event["by"], event["compensation_approved_by"]) == ("frontline-li", "duty-wang")
        assert event["compensation_approved_by_name"] == "Wang Fang"
        assert event["compensation"] == "a cleaning voucher"
        types = [e["type"] for e in events]
        assert types.index("case.compensation_requested") < types.index(
            "case.compensation_approved"
        ) < types.index("case.resolved")  # fmt: skip


@pytest.fixture
async def console_stack(start_service, tmp_path) -> AsyncIterator[tuple[str, str, str]]:
    """Intake, escalation (on ``POLICY`` with an hour to approve) and the console, signing
    people in through the development provider (as tests/e2e/test_console.py does)."""
    (tmp_path / "policy.yaml").write_text(POLICY.replace("within: 3s", "within: 1h"))
    intake = await start_service("intake")
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml")
    )
    port = free_port()
    provider = await asyncio.to_thread(start_dev_provider, tmp_path / "provider", port)
    console = ServiceProcess(
        "console",
        {
            "CONSOLE_INTAKE_URL": intake.url,
            "CONSOLE_ESCALATION_URL": escalation.url,
            "CONSOLE_FOLLOWUP_URL": "http://127.0.0.1:9",
            "CONSOLE_SATISFACTION_URL": "http://127.0.0.1:9",
            "CONSOLE_NOTIFY_URL": "http://127.0.0.1:9",
            "CONSOLE_INTAKE_API_KEY": INTAKE_KEYS["web"],
            **provider.console_env(),
        },
        port=port,
    )
    try:
        await asyncio.to_thread(console.start)
        yield console.url, intake.url, escalation.url
    finally:
        console.stop()
        provider.stop()


async def test_the_console_approves_a_plan_flags_abuse_and_refuses_service(console_stack):
    console, intake, escalation = console_stack
    async with httpx.AsyncClient(timeout=15) as http:
        cid = await complaint(http, intake, "major")
        await worked_to_investigating(http, f"{escalation}/cases/{cid}")
    async with browser() as chromium:
        context = await chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        status = page.locator("#case-status")

        await sign_in(page, console, "Li Wei")
        await page.goto(f"{console}/cases/{cid}")
        plan = page.locator("form[data-action=plan]")
        await plan.get_by_label("Plan").fill("A new dishwasher, fitted on Saturday.")
        await plan.get_by_role("button").click()
        await expect(status).to_have_text("plan_awaiting_approval")
        await expect(page.locator("#pending-plan")).to_contain_text("manager")
        # An agent is not offered the approval; the abuse report is anyone's.
        assert await page.locator("form[data-action=approve-plan]").count() == 0
        flag = page.locator("form[data-action=flag-abuse]")
        await flag.get_by_label("What happened").fill("Shouted at and threatened Li Wei.")
        await flag.get_by_role("button").click()
        await expect(page.locator("p.abuse")).to_contain_text("Shouted at and threatened")
        await page.get_by_role("button", name="Sign out").click()

        # A supervisor is offered the approval, and escalation says it needs a manager.
        await sign_in(page, console, "Wang Fang")
        await page.goto(f"{console}/cases/{cid}")
        await page.locator("form[data-action=approve-plan] button").click()
        await expect(page.locator("#action-error")).to_contain_text("manager")
        refuse = page.locator("form[data-action=refuse-service]")
        await refuse.get_by_label("Reason").fill("Company policy, art. 8")
        await refuse.get_by_role("button").click()
        await expect(status).to_have_text("service_refused")
        await expect(page.locator("#service-refused")).to_contain_text("art. 8")
        lift = page.locator("form[data-action=lift-refusal]")
        await lift.get_by_label("Reason").fill("He apologised in writing")
        await lift.get_by_role("button").click()
        await expect(status).to_have_text("plan_awaiting_approval")
        await page.get_by_role("button", name="Sign out").click()

        await sign_in(page, console, "Liu Yang")
        await page.goto(f"{console}/cases/{cid}")
        await page.locator("form[data-action=approve-plan] button").click()
        await expect(status).to_have_text("plan_recorded")
        await expect(page.locator("ol.timeline")).to_contain_text("case.plan_approved")
        await context.close()
        # The case page with the approvals card passes axe-core's WCAG 2 A/AA rules.
        checked = await chromium.new_context(bypass_csp=True)
        checked.set_default_timeout(TIMEOUT_MS)
        page = await checked.new_page()
        await sign_in(page, console, "Liu Yang")
        await page.goto(f"{console}/cases/{cid}")
        assert await serious_violations(page) == []
        await checked.close()
