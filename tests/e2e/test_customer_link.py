"""The customer's own link end to end: intake, escalation, notify (real SMTP, in this test
process) and the console as real processes, in real headless Chromium.

A complaint without a name gets the request for it, with a "My complaint" link, then a
reminder with another; the customer opens the link on a phone with JavaScript off, completes
the form, and the clocks start (escalation opens the case, the page shows the promised
times). Another one never completed is closed as unreachable after the (test-short) time,
and its link then says it expired (410); an unknown link is a kind 404. Only the tokens'
hashes travel on Kafka, and no process logs a token."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.e2e.test_notify import notify_env
from tests.integration.notify.receivers import MailSink, text_of
from tests.support.browser import TIMEOUT_MS, browser, serious_violations
from tests.support.kafka import read_until
from tests.support.processes import ServiceProcess, free_port
from tests.support.servers import ROOT
from tests.support.waiting import eventually

DOCS = Path(ROOT) / "services" / "console" / "docs"
WEB = {"X-API-Key": INTAKE_KEYS["web"]}
AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
SUPERVISOR = {"Authorization": f"Bearer {OPS_TOKENS['supervisor']}"}


async def test_the_customer_completes_by_link_and_the_silent_one_is_closed_unreachable(
    start_service, servers, topics, tmp_path: Path
):
    sink = MailSink(tmp_path / "mail", free_port()).start()
    console_port = free_port()
    links = f"http://127.0.0.1:{console_port}/c/"
    started: list[ServiceProcess] = []
    try:
        intake = await start_service(
            "intake",
            INTAKE_CONTACT_REMINDERS="2s",
            INTAKE_CLOSE_UNREACHABLE_AFTER="45s",
            INTAKE_LINK_VALID_AFTER_CLOSING="0s",
        )
        escalation = await start_service("escalation")
        notify = await start_service("notify", **notify_env(sink, NOTIFY_CUSTOMER_LINK_BASE=links))
        console = ServiceProcess(
            "console",
            {"CONSOLE_INTAKE_URL": intake.url, "CONSOLE_INTAKE_API_KEY": INTAKE_KEYS["web"]},
            port=console_port,
        ).start()
        started.append(console)

        async with httpx.AsyncClient(timeout=15) as http:
            ids = []
            for who in ("wu.lei", "silent"):
                answer = await http.post(
                    f"{intake.url}/complaints",
                    headers=WEB,
                    json={"customer": {"email": f"{who}@example.test"}, "category": "delivery",
                          "description": "The parcel never came."},
                )  # fmt: skip
                assert answer.status_code == 201, answer.text
                assert answer.json()["status"] == "awaiting_information"
                ids.append(answer.json()["complaint_id"])
            complaint, silent = ids

            def mails(complaint_id: str, template: str):
                async def found():
                    return sink.for_complaint(complaint_id, template)

                return found

            (asked,) = await eventually(mails(complaint, "information_needed"))
            first_link = re.search(rf"{re.escape(links)}(\S+)", text_of(asked)).group(1)
            reminders = await eventually(mails(complaint, "contact_reminder"))
            token = re.search(rf"{re.escape(links)}(\S+)", text_of(reminders[0])).group(1)
            assert token != first_link  # each message its own link

            async def known():
                mine = await http.get(
                    f"{intake.url}/my-complaint", headers={"X-Complaint-Link": token}
                )
                return mine if mine.status_code == 200 else None

            mine = (await eventually(known)).json()
            assert mine["status"] == "awaiting_information"
            assert mine["missing_fields"] == ["customer.name"] and mine["closes_at"]
            assert "customer" not in mine  # no personal data behind a link

            page_url = f"{links}{token}"
            async with browser() as chromium:
                checked = await chromium.new_context(
                    viewport={"width": 390, "height": 844}, bypass_csp=True
                )
                page = await checked.new_page()
                await page.goto(page_url)
                assert await serious_violations(page) == []
                await checked.close()

                phone = await chromium.new_context(
                    viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                    java_script_enabled=False,
                )  # fmt: skip
                phone.set_default_timeout(TIMEOUT_MS)
                page = await phone.new_page()
                shown = await page.goto(page_url)
                assert shown is not None and shown.status == 200
                policy = shown.headers["content-security-policy"]
                assert "script-src 'self'" in policy and "unsafe-inline" not in policy
                status = page.locator("#status")
                await expect(status).to_have_attribute("data-status", "awaiting_information")
                await page.get_by_label("Your name").fill("Wu Lei")
                await page.screenshot(path=str(DOCS / "my-complaint-phone.png"), full_page=True)
                await page.get_by_role("button", name="Send my details").click()
                await expect(page.locator("#saved")).to_be_visible()
                await expect(status).not_to_have_attribute("data-status", "awaiting_information")

                # The clocks started: escalation opened the case; the page shows its promises.
                async def case_open():
                    return (
                        await http.get(f"{escalation.url}/cases/{complaint}", headers=AGENT)
                    ).status_code == 200

                await eventually(case_open)

                async def opened():
                    mine = await http.get(
                        f"{intake.url}/my-complaint", headers={"X-Complaint-Link": token}
                    )
                    found = mine.json()
                    return found["deadlines"] and found["status"] != "received"

                await eventually(opened)  # intake followed case.opened and its deadlines
                await page.goto(page_url)
                await expect(page.locator("#promises li").first).to_be_visible()
                await expect(page.locator("#steps li")).to_have_count(3)  # recorded, received, open
                # In Chinese (the header's switch, a plain form): the same page, translated.
                await page.get_by_role("button", name="中文").click()
                await expect(page.locator("#steps-title")).to_have_text("处理经过")
                await expect(page.locator("#status")).to_contain_text("您")

                # A form posted without the session's CSRF token is refused.
                forged = await http.post(page_url, data={"name": "Mallory"})
                assert forged.status_code == 403

                # An unknown link: a kind 404.
                gone = await page.goto(f"{links}not-a-link-we-made")
                assert gone is not None and gone.status == 404
                await expect(page.locator("#link-state")).to_have_attribute("data-state", "unknown")

                # The silent one: reminded, then closed as unreachable; its link expires (0s).
                silent_mails = await eventually(mails(silent, "contact_reminder"))
                silent_token = re.search(
                    rf"{re.escape(links)}(\S+)", text_of(silent_mails[0])
                ).group(1)

                async def closed():
                    found = await http.get(f"{intake.url}/complaints/{silent}", headers=WEB)
                    return found.json()["status"] == "closed_unreachable"

                await eventually(closed, timeout=120)
                expired = await page.goto(f"{links}{silent_token}")
                assert expired is not None and expired.status == 410
                await expect(page.locator("#link-state")).to_have_attribute("data-state", "expired")
                await phone.close()

            # The ops list: the completed one is gone from it; the timers were cancelled.
            listed = await http.get(f"{intake.url}/incomplete-complaints", headers=SUPERVISOR)
            assert listed.status_code == 200, listed.text
            assert complaint not in {i["complaint_id"] for i in listed.json()["items"]}
            assert len(sink.for_complaint(complaint, "contact_reminder")) == 1
            assert sink.for_complaint(complaint, "receipt")  # completed: acknowledged

        # Only hashes on Kafka: each link the customer got is known by its SHA-256.
        issued = await read_until(
            servers.kafka_bootstrap,
            topics.notify,
            lambda kept: len(kept) >= 2,
            lambda r: r.key == complaint and r.value["type"] == "customer_link.issued",
        )
        digests = {r.value["data"]["token_sha256"] for r in issued}
        assert hashlib.sha256(token.encode()).hexdigest() in digests
        assert token not in str([r.value for r in issued])
        closing = await read_until(
            servers.kafka_bootstrap,
            topics.intake,
            lambda kept: len(kept) >= 1,
            lambda r: r.key == silent and r.value["type"] == "complaint.closed_unreachable",
        )
        assert closing[0].value["data"]["reminders_sent"] >= 1
    finally:
        for process in started:
            process.stop()
        sink.stop()
    for process in (intake, escalation, notify, console):
        logged = process.log_path.read_text(errors="replace")
        for secret in (token, first_link, silent_token):
            assert secret not in logged, f"{process.service} logged a link token"
