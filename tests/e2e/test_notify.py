"""Notifications end to end, the services as real processes against the real Kafka,
PostgreSQL and an SMTP server (the mail catcher, in this test process): a remote complaint's
customer hears of the receipt (with the promised time), the plan, the resolution and the
survey (a link whose token's hash is the one published); an on-site complaint nobody takes
reaches each rung's team exactly once as it climbs; a SIGKILL of notify mid-stream loses no
message and sends none twice."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notify.mailcatcher import MailFolder
from shared.db import create_engine
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.e2e.test_escalation import policy as escalation_policy
from tests.e2e.test_followup import policy_file as followup_policy
from tests.integration.notify.conftest import produce
from tests.integration.notify.receivers import MailSink, Receiver, serving, text_of
from tests.integration.notify.test_notify import received
from tests.support.kafka import read_until
from tests.support.processes import free_port
from tests.support.waiting import eventually

SECRET = "e2e-webhook-secret"
AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
SUPERVISOR = {"Authorization": f"Bearer {OPS_TOKENS['supervisor']}"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def notify_env(sink: MailSink, **extra: str) -> dict[str, str]:
    return {
        "NOTIFY_SMTP_PORT": str(sink.port),
        "NOTIFY_WEBHOOK_SECRET": SECRET,
        "NOTIFY_DELIVERY_BACKOFF_SECONDS": "0.2",
        "NOTIFY_DELIVERY_MAX_ATTEMPTS": "10",
        "NOTIFY_OUTBOX_POLL_SECONDS": "0.2",
        **extra,
    }


def staff_directory(tmp_path: Path, receiver: Receiver) -> str:
    from shared.directory import DEMO_DIRECTORY

    path = tmp_path / "staff.yaml"
    text = DEMO_DIRECTORY.read_text(encoding="utf-8")
    path.write_text(text.replace("http://127.0.0.1:8026", receiver.url), encoding="utf-8")
    return str(path)


async def found(value):
    return value


def zh_time(moment: str) -> str:
    local = datetime.fromisoformat(moment).astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


async def test_a_remote_complaint_the_customer_hears_receipt_plan_resolution_and_survey(
    start_service, servers, topics, tmp_path
):
    sink = MailSink(tmp_path / "mail", free_port()).start()
    try:
        intake = await start_service("intake")
        escalation = await start_service("escalation")
        followup = await start_service("followup", FOLLOWUP_POLICY_FILE=followup_policy(tmp_path))
        satisfaction = await start_service("satisfaction")
        await start_service(
            "notify", **notify_env(sink, NOTIFY_SURVEY_LINK_BASE=f"{satisfaction.url}/surveys/")
        )
        async with httpx.AsyncClient(timeout=10) as http:
            submitted = await http.post(
                f"{intake.url}/complaints",
                headers={"X-API-Key": INTAKE_KEYS["web"]},
                json={
                    "customer": {"id": "c-notify", "name": "李娜", "email": "li.na@example.test",
                                 "phone": "+86 138 0013 8000", "tier": "B"},
                    "category": "product_quality",
                    "description": "洗衣机漏水",
                },
            )  # fmt: skip
            assert submitted.status_code == 201, submitted.text
            complaint = submitted.json()["complaint_id"]
            promised = zh_time(submitted.json()["acknowledge_by"])

            def mails(template: str):
                return found(sink.for_complaint(complaint, template))

            (receipt,) = await eventually(lambda: mails("receipt"))
            assert receipt["To"] == "li.na@example.test"
            assert promised in text_of(receipt)

            case_url = f"{escalation.url}/cases/{complaint}"

            async def case_open():
                return (await http.get(case_url, headers=AGENT)).status_code == 200

            await eventually(case_open)
            for step, body in (
                ("acknowledge", {}),
                ("investigate", {"findings": "密封圈老化"}),
                ("plan", {"plan": "上门更换密封圈，三天内完成"}),
            ):
                answer = await http.post(f"{case_url}/{step}", json=body, headers=AGENT)
                assert answer.status_code == 200, answer.text
            (plan,) = await eventually(lambda: mails("plan"))
            assert "上门更换密封圈" in text_of(plan)

            done = await http.post(
                f"{case_url}/resolve", json={"resolution": "已更换密封圈"}, headers=AGENT
            )
            assert done.status_code == 200, done.text
            (resolution,) = await eventually(lambda: mails("resolution"))
            assert "已更换密封圈" in text_of(resolution)

            async def due_callback():
                answer = await http.get(
                    f"{followup.url}/callbacks", params={"complaint_id": complaint},
                    headers=AGENT,
                )  # fmt: skip
                due = [c for c in answer.json()["items"] if c["state"] == "due"]
                return due[0] if due else None

            callback = await eventually(due_callback)
            happy = await http.post(
                f"{followup.url}/callbacks/{callback['callback_id']}/outcome",
                json={"reached": True, "satisfied": True},
                headers=AGENT,
            )
            assert happy.status_code == 200, happy.text
            (survey,) = await eventually(lambda: mails("survey_invitation"))

        customer = {"receipt", "plan", "resolution", "survey_invitation"}
        order = [m["X-Template"] for m in sink.for_complaint(complaint)
                 if m["X-Template"] in customer]  # fmt: skip
        assert order == ["receipt", "plan", "resolution", "survey_invitation"]
        link_base = f"{satisfaction.url}/surveys/"
        token = text_of(survey).split(link_base, 1)[1].split()[0]
        (invited,) = await read_until(
            servers.kafka_bootstrap,
            topics.notify,
            lambda kept: len(kept) >= 1,
            lambda r: r.key == complaint and r.value["type"] == "survey.invited",
        )
        assert invited.value["data"]["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(invited.value)

        # The link works against satisfaction, which knows the survey by that hash only. (A
        # satisfaction without GET /surveys/{token} predates survey.invited: 405.)
        async with httpx.AsyncClient(timeout=10) as http:
            survey_url = f"{satisfaction.url}/surveys/{token}"
            if (await http.get(survey_url)).status_code != 405:

                async def known():
                    return (await http.get(survey_url)).status_code == 200

                await eventually(known)
                answer = await http.post(survey_url, json={"level": "very_satisfied"})
                assert answer.status_code == 201, answer.text
                again = await http.post(survey_url, json={"level": "satisfied"})
                assert again.status_code == 409  # single use
    finally:
        sink.stop()


async def test_an_on_site_complaint_nobody_takes_reaches_each_rung_once(
    start_service, servers, topics, tmp_path
):
    """Seconds-scaled ladder: one policy minute is 0.1 s (team lead 15 min -> 1.5 s)."""
    sink = MailSink(tmp_path / "mail", free_port()).start()
    policy = tmp_path / "escalation-policy.yaml"
    policy.write_text(
        escalation_policy("1.5").replace(
            "supervisor: 1.5s,\n             customer_relations: 1.5s",
            "supervisor: 3s,\n             customer_relations: 6s",
        )
    )
    async with serving(Receiver(SECRET.encode())) as hooks:
        directory = staff_directory(tmp_path, hooks)
        try:
            intake = await start_service("intake", STAFF_DIRECTORY_FILE=directory)
            await start_service(
                "escalation", ESCALATION_POLICY_FILE=str(policy), STAFF_DIRECTORY_FILE=directory
            )
            await start_service("notify", **notify_env(sink, STAFF_DIRECTORY_FILE=directory))
            async with httpx.AsyncClient(timeout=10) as http:
                submitted = await http.post(
                    f"{intake.url}/complaints",
                    headers={"X-API-Key": INTAKE_KEYS["counter"]},
                    json={
                        "customer": {"id": "c-site", "name": "张伟", "phone": "13800000001"},
                        "category": "service_attitude",
                        "description": "收银台排队四十分钟无人处理",
                        "subject": {"kind": "site", "reference": "store-1"},
                    },
                )
            assert submitted.status_code == 201, submitted.text
            complaint = submitted.json()["complaint_id"]

            def escalated_to() -> list[str]:
                return [m["To"] for m in sink.for_complaint(complaint, "case_escalated")]

            relations = {"chen.jing@example.test", "customer-relations@example.test"}
            await eventually(lambda: found(relations <= set(escalated_to())), timeout=90)
            assigned = await read_until(
                servers.kafka_bootstrap,
                topics.handling,
                lambda kept: "customer-relations" in [r.value["data"]["team"] for r in kept],
                lambda r: r.key == complaint and r.value["type"] == "case.assigned",
            )
        finally:
            sink.stop()
        wang = [p for p in hooks.at("/hooks/duty-wang") if p.json()["complaint_id"] == complaint]

    # Each rung's team, exactly once, in the order the case climbed.
    sent = escalated_to()
    per_address = Counter(sent)
    ladder = [
        {"zhang.min@example.test"},  # the team lead (store 1), at once
        {"wang.fang@example.test", "store1-duty@example.test"},  # duty supervisor, 15 min
        relations,  # customer relations, a further 30 min
    ]
    for team in ladder:
        assert all(per_address[address] == 1 for address in team), per_address
    firsts = [min(sent.index(a) for a in team) for team in ladder]
    assert firsts == sorted(firsts)
    # The front line was told when the case opened with them; the duty supervisor also by
    # her webhook, signed.
    (frontline,) = sink.for_complaint(complaint, "case_assigned")
    assert frontline["To"] == "li.wei@example.test"
    assert [p.json()["template"] for p in wang] == ["case_escalated"]
    assert all(p.signature_ok for p in wang)
    teams = [r.value["data"]["team"] for r in assigned]
    assert teams[:4] == ["store1-frontline", "store1-team-leads", "store1-duty",
                         "customer-relations"]  # fmt: skip


class SlowMailFolder(MailFolder):
    """Takes a while over each recipient, so a kill lands while mails are being sent."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options
    ) -> str:
        await asyncio.sleep(0.1)
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_kill_9_mid_stream_loses_no_message_and_sends_none_twice(
    start_service, servers, topics, tmp_path
):
    from aiosmtpd.controller import Controller

    folder, port = tmp_path / "mail", free_port()
    controller = Controller(SlowMailFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    sink = MailSink(folder, port, controller)
    complaints = [uuid.uuid4() for _ in range(30)]
    try:
        notify = await start_service("notify", **notify_env(sink, NOTIFY_DELIVERY_WORKERS="2"))
        await produce(
            servers.kafka_bootstrap,
            topics.intake,
            [received(c, {"name": "李娜", "email": f"c{i}@example.test"})
             for i, c in enumerate(complaints)],
        )  # fmt: skip
        ours = {str(c) for c in complaints}

        def delivered() -> list[str]:
            return [m["X-Complaint-Id"] for m in sink.mails() if m["X-Complaint-Id"] in ours]

        await eventually(lambda: found(len(delivered()) >= 5))
        notify.kill()  # SIGKILL: no shutdown, whatever was in flight is cut off
        assert len(delivered()) < len(complaints), "the kill came after the stream was done"
        await start_service("notify", database_url=notify.database_url, **notify_env(sink))
        await eventually(lambda: found(set(delivered()) == ours), timeout=90)

        engine = create_engine(notify.database_url, pool_size=1)
        try:

            async def all_sent() -> bool:
                async with engine.connect() as conn:
                    pending = await conn.scalar(
                        sa.text(
                            "SELECT count(*) FROM messages WHERE complaint_id = ANY(:ids) "
                            "AND status <> 'sent'"
                        ),
                        {"ids": complaints},
                    )
                return pending == 0

            await eventually(all_sent)
        finally:
            await engine.dispose()
    finally:
        sink.stop()
    # No message lost: every complaint's receipt arrived. None sent twice: each complaint got
    # one message (one Message-ID). Delivery is at least once: a mail the SMTP server took in
    # the instant between its "250 OK" and notify's commit, when the kill came, is sent again
    # under the same Message-ID, which a receiver drops (at most one per delivery lane).
    mails = [m for m in sink.mails() if m["X-Complaint-Id"] in ours]
    ids = {c: {m["Message-ID"] for m in mails if m["X-Complaint-Id"] == c} for c in ours}
    assert all(len(found_ids) == 1 for found_ids in ids.values()), ids
    repeated = [c for c, n in Counter(m["X-Complaint-Id"] for m in mails).items() if n > 1]
    assert len(repeated) <= 2, repeated
