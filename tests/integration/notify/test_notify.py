"""The notification service against the real PostgreSQL, Kafka, an SMTP server (the mail
catcher, aiosmtpd) and an HTTP receiver: customers' mails in their language with the
promised time, duplicates suppressed, SMTP down (retries, parked as failed, retried), quiet
hours holding an SMS until morning, staff told of assignments and escalations, survey
invitations, and webhook signatures."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.domain.messages import Content, Draft, Recipient, Template
from services.notify.domain.signature import sign, verify
from services.notify.store import repository as repo
from shared.db import create_engine
from shared.events.common import Channel, ContactCard, Mode, Severity
from shared.events.envelope import Envelope, new_event
from shared.events.followup import CallbackKind, FollowupDue
from shared.events.handling import (
    AssignmentReason,
    CaseAssigned,
    CaseEscalated,
    CaseForwarded,
    CaseOpened,
    CasePauseOverdue,
    CaseSlaBreached,
    CaseSlaWarning,
)
from shared.events.handling import EscalationReason as Reason
from shared.events.intake import ComplaintReceived, Customer
from shared.events.notify import DeliveryChannel, RecipientKind
from tests.integration.notify.conftest import (
    SUPERVISOR,
    WEBHOOK_SECRET,
    Clock,
    notify_replica,
    produce,
)
from tests.integration.notify.receivers import html_of, text_of
from tests.support.kafka import read_until
from tests.support.waiting import eventually

RECEIVED_AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ACK_BY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai


def received(
    complaint_id: uuid.UUID,
    customer: dict,
    description: str = "洗衣机漏水",
    complete: bool = True,
    channel: Channel = Channel.WEB,
    site: str | None = None,
    missing: tuple[str, ...] = ("customer.phone|customer.email",),
) -> Envelope:
    data = ComplaintReceived(
        complaint_id=complaint_id,
        received_at=RECEIVED_AT,
        channel=channel,
        mode=Mode.ON_SITE if channel == Channel.COUNTER else Mode.REMOTE,
        category="product_quality",
        severity=Severity.GENERAL,
        severity_reasons=[],
        customer=Customer.model_validate({k: v for k, v in customer.items() if k != "language"}),
        description=description,
        information_complete=complete,
        missing_fields=[] if complete else list(missing),
        acknowledge_by=ACK_BY if complete else None,
    )
    event = new_event("/test/intake", str(complaint_id), data)
    # Fields a newer producer may add: the reader must take them, or ignore them.
    extra_customer = {"language": customer["language"]} if "language" in customer else {}
    payload = event.data | {"customer": event.data["customer"] | extra_customer}
    if site:
        payload["site"] = site
    return event.model_copy(update={"data": payload | {"some_future_field": 1}})


async def test_receipt_in_chinese_and_english_with_the_promised_time(
    servers, own_topics, databases, mail_sink
):
    zh, en = uuid.uuid4(), uuid.uuid4()
    async with notify_replica(
        servers, own_topics, await databases.create("notify"), smtp_port=mail_sink.port
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [
                received(zh, {"name": "李娜", "email": "li.na@example.test"}),
                received(
                    en,
                    {"name": "Tom <b>Lee</b>", "email": "tom@example.test", "language": "en-GB"},
                    description="The washing machine leaks",
                ),
            ],
        )
        (zh_mail,) = await eventually(lambda: _async(mail_sink.for_complaint(zh, "receipt")))
        (en_mail,) = await eventually(lambda: _async(mail_sink.for_complaint(en, "receipt")))

    assert zh_mail["To"] == "li.na@example.test"
    assert zh_mail["Subject"].startswith("我们已收到您的投诉")
    assert "2026年11月25日 20:00" in text_of(zh_mail)
    assert "李娜" in html_of(zh_mail) and "2026年11月25日 20:00" in html_of(zh_mail)
    assert en_mail["Subject"].startswith("We have received your complaint")
    assert "by 2026-11-25 20:00 (CST)" in text_of(en_mail)
    # The HTML part is autoescaped: the customer's words cannot inject markup.
    assert "Tom &lt;b&gt;Lee&lt;/b&gt;" in html_of(en_mail) and "<b>Lee" not in html_of(en_mail)
    assert "Tom <b>Lee</b>" in text_of(en_mail)


async def _async(value):
    return value


async def test_a_complaint_awaiting_information_asks_for_it_with_a_link(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        customer_link_base="https://complaints.example.test/c/",
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(complaint, {"email": "anon@example.test"}, complete=False,
                      missing=("customer.name",))],
        )  # fmt: skip
        (mail,) = await eventually(
            lambda: _async(mail_sink.for_complaint(complaint, "information_needed"))
        )
    # The customer's own "My complaint" link; only its hash is published (for intake).
    token = text_of(mail).split("https://complaints.example.test/c/", 1)[1].split()[0]
    assert "name" in text_of(mail) and mail["To"] == "anon@example.test"
    assert mail_sink.for_complaint(complaint, "receipt") == []  # no promise before it is complete
    (issued,) = await read_until(
        servers.kafka_bootstrap,
        own_topics.notify,
        lambda kept: len(kept) >= 1,
        lambda r: r.key == str(complaint) and r.value["type"] == "customer_link.issued",
    )
    assert issued.value["data"]["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(issued.value)


async def test_without_customer_links_the_request_points_at_the_completion_link(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        customer_link_base="",
        completion_link="https://complaints.example.test/c/{complaint_id}/complete",
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(complaint, {"email": "anon@example.test"}, complete=False,
                      missing=("customer.name",))],
        )  # fmt: skip
        (mail,) = await eventually(
            lambda: _async(mail_sink.for_complaint(complaint, "information_needed"))
        )
    assert f"https://complaints.example.test/c/{complaint}/complete" in text_of(mail)


async def test_a_duplicate_event_sends_one_mail(servers, own_topics, databases, mail_sink):
    complaint = uuid.uuid4()
    event = received(complaint, {"name": "王芳", "email": "wang@example.test"})
    url = await databases.create("notify")
    async with notify_replica(servers, own_topics, url, smtp_port=mail_sink.port):
        await produce(servers.kafka_bootstrap, own_topics.intake, [event, event])
        await eventually(lambda: _async(mail_sink.for_complaint(complaint, "receipt")))
        # The redelivered copy is seen (and skipped) by the consumer.
        labels = {"topic": own_topics.intake, "type": "complaint.received",
                  "outcome": "duplicate"}  # fmt: skip
        await eventually(lambda: _async(REGISTRY.get_sample_value("consumer_events_total", labels)))
    assert len(mail_sink.for_complaint(complaint)) == 1

    # A repeated cause with the same recipient and template is stopped by the database too.
    engine = create_engine(url, pool_size=2)
    draft = Draft(
        cause_event_id=event.id,
        cause_type=event.type,
        complaint_id=complaint,
        key=str(complaint),
        recipient=Recipient(RecipientKind.CUSTOMER, "customer", DeliveryChannel.EMAIL, "zh-CN"),
        template=Template.RECEIPT,
        content=Content("s", "t", None, None),
        not_before=datetime.now(UTC),
    )
    async with engine.begin() as conn:
        session = AsyncSession(bind=conn)
        assert await repo.add_messages(session, [draft], datetime.now(UTC)) == 0
        count = await conn.scalar(
            sa.text("SELECT count(*) FROM messages WHERE complaint_id = :c"), {"c": complaint}
        )
    await engine.dispose()
    assert count == 1


async def test_smtp_down_retries_then_parks_the_message_visibly_and_a_retry_delivers_it(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()
    mail_sink.stop()  # the SMTP server is down: nothing listens on its port
    before = (
        REGISTRY.get_sample_value(
            "notify_messages_failed_total", {"channel": "email", "template": "receipt"}
        )
        or 0.0
    )
    url = await databases.create("notify")
    async with notify_replica(servers, own_topics, url, smtp_port=mail_sink.port) as api:
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(complaint, {"name": "李娜", "email": "li.na@example.test"})],
        )

        async def parked():
            answer = await api.get(
                "/messages",
                params={"status": "failed", "complaint_id": str(complaint)},
                headers=SUPERVISOR,
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["items"]

        (failed,) = await eventually(parked)
        assert failed["attempts"] == 3 and failed["template"] == "receipt"
        assert failed["last_error"] and "li.na@example.test" not in failed["last_error"]
        assert "address" not in failed and "body_text" not in failed  # no personal data
        metric = REGISTRY.get_sample_value(
            "notify_messages_failed_total", {"channel": "email", "template": "receipt"}
        )
        assert metric == before + 1
        # Only supervisors (and above) see the messages.
        assert (await api.get("/messages")).status_code == 401

        # The server is back: a retry delivers the parked message.
        mail_sink.start()
        retried = await api.post(f"/messages/{failed['message_id']}/retry", headers=SUPERVISOR)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        again = await api.post(f"/messages/{failed['message_id']}/retry", headers=SUPERVISOR)
        assert again.status_code in (200, 409)  # 409 once it is no longer failed
        (mail,) = await eventually(lambda: _async(mail_sink.for_complaint(complaint)))
        assert mail["Message-ID"] == f"<{failed['message_id']}@notify.complaint-platform>"

        async def sent():
            answer = await api.get(f"/messages/{failed['message_id']}", headers=SUPERVISOR)
            return answer.json() if answer.json()["status"] == "sent" else None

        assert (await eventually(sent))["attempts"] == 1
        assert (await api.post(f"/messages/{uuid.uuid4()}/retry", headers=SUPERVISOR)
                ).status_code == 404  # fmt: skip

    outcomes = await read_until(
        servers.kafka_bootstrap,
        own_topics.notify,
        lambda kept: {"message.failed", "message.sent"} <= {r.value["type"] for r in kept},
        lambda r: r.key == str(complaint),
    )
    failed_event = next(r for r in outcomes if r.value["type"] == "message.failed")
    assert failed_event.value["data"]["recipient"] == "customer"
    assert "li.na" not in failed_event.value["data"]["error"]


async def test_quiet_hours_hold_an_sms_until_morning(
    servers, own_topics, databases, mail_sink, receiver
):
    clock = Clock(datetime(2026, 11, 25, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    complaint = uuid.uuid4()
    url = await databases.create("notify")
    async with notify_replica(
        servers,
        own_topics,
        url,
        clock=clock,
        smtp_port=mail_sink.port,
        sms_gateway_url=f"{receiver.url}/sms",
        quiet_hours="22:00-08:00",
        time_zone="Asia/Shanghai",
    ) as api:
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(complaint, {"name": "李娜", "email": "li.na@example.test",
                                  "phone": "+86 138 0013 8000"})],
        )  # fmt: skip

        async def messages():
            answer = await api.get(
                "/messages", params={"complaint_id": str(complaint)}, headers=SUPERVISOR
            )
            items = answer.json()["items"]
            return items if len(items) == 2 else None

        # The e-mail goes at once (quiet hours are for texts); the SMS waits for 08:00.
        await eventually(lambda: _async(mail_sink.for_complaint(complaint, "receipt")))
        by_channel = {m["channel"]: m for m in await eventually(messages)}
        sms = by_channel["sms"]
        assert sms["status"] == "pending" and sms["attempts"] == 0
        morning = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
        assert datetime.fromisoformat(sms["next_attempt_at"]) == morning
        assert receiver.at("/sms") == []

        clock.now = morning + timedelta(seconds=1)
        (posted,) = await eventually(lambda: _async(receiver.at("/sms")))
    assert posted.signature_ok
    assert posted.json()["to"] == "+86 138 0013 8000"
    assert "2026年11月25日 20:00" in posted.json()["text"]
    assert posted.headers["x-message-id"] == sms["message_id"]


def case_event(complaint_id: uuid.UUID, data) -> Envelope:
    return new_event("/test/escalation", str(complaint_id), data)


async def test_staff_told_of_an_assignment_to_their_team_and_of_an_escalation(
    servers, own_topics, databases, mail_sink, receiver, directory_file
):
    complaint = uuid.uuid4()
    now = datetime.now(UTC)
    opened = CaseOpened(
        complaint_id=complaint, opened_at=now, level="frontline", severity=Severity.GENERAL,
        tier="C", mode=Mode.ON_SITE, channel=Channel.COUNTER, category="product_quality",
        policy_version="t", deadlines={},
    )  # fmt: skip
    assigned = CaseAssigned(
        complaint_id=complaint, at=now, team="store1-duty", rung="supervisor",
        reason=AssignmentReason.HANDED_OVER, note="needs a duty manager", by="lead-zhang",
        by_name="Zhang Min",
    )  # fmt: skip
    escalated = CaseEscalated(
        complaint_id=complaint, at=now, from_level="supervisor", to_level="customer_relations",
        reason=Reason.DEADLINE, clock="ladder",
    )  # fmt: skip
    opened_event = case_event(complaint, opened)
    opened_event = opened_event.model_copy(update={"data": opened_event.data | {"site": "store-1"}})
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        staff_directory_file=str(directory_file),
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.handling,
            [opened_event, case_event(complaint, assigned), case_event(complaint, escalated)],
        )

        def addressed(template: str) -> set[str]:
            return {m["To"] for m in mail_sink.for_complaint(complaint, template)}

        # store1-duty: its member (e-mail and webhook, by her preference) and its own address.
        team = {"wang.fang@example.test", "store1-duty@example.test"}
        await eventually(lambda: _async(addressed("case_assigned") == team))
        (hook,) = await eventually(lambda: _async(receiver.at("/hooks/duty-wang")))
        # The next rung's team, customer relations: its member and its address.
        relations = {"chen.jing@example.test", "customer-relations@example.test"}
        await eventually(lambda: _async(addressed("case_escalated") == relations))

    assert hook.signature_ok
    assert hook.json()["template"] == "case_assigned"
    assert hook.json()["complaint_id"] == str(complaint)
    assert "Zhang Min" in hook.json()["text"]
    chen = next(m for m in mail_sink.for_complaint(complaint, "case_escalated")
                if m["To"] == "chen.jing@example.test")  # fmt: skip
    assert "customer_relations" in text_of(chen)  # Chen Jing reads English
    assert text_of(chen).startswith("Hello Chen Jing")


async def test_a_forwarded_case_tells_the_customer_when_the_answer_will_come(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()
    forwarded = CaseForwarded(
        complaint_id=complaint, at=RECEIVED_AT, from_team="remote-desk", to_team="dept-furniture",
        reason="the sofa was sold by the furniture department", answer_by=ACK_BY,
        by="frontline-li",
    )  # fmt: skip
    async with notify_replica(
        servers, own_topics, await databases.create("notify"), smtp_port=mail_sink.port
    ):
        customer = {"name": "Ann Smith", "email": "ann@example.test"}
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(complaint, customer, description="The sofa is torn")],
        )
        await eventually(lambda: _async(mail_sink.for_complaint(complaint, "receipt")))
        await produce(
            servers.kafka_bootstrap, own_topics.handling, [case_event(complaint, forwarded)]
        )
        (mail,) = await eventually(lambda: _async(mail_sink.for_complaint(complaint, "forwarded")))
    assert "Furniture department" in text_of(mail)
    assert "by 2026-11-25 20:00 (CST)" in text_of(mail)


async def test_survey_invitation_link_matches_the_published_hash(
    servers, own_topics, databases, mail_sink
):
    complaint, survey_id = uuid.uuid4(), uuid.uuid4()
    requested = Envelope(
        source="/test/followup",
        type="survey.requested",
        subject=str(complaint),
        data={
            "survey_id": str(survey_id),
            "complaint_id": str(complaint),
            "callback_id": str(uuid.uuid4()),
            "cycle": 1,
            "customer": ContactCard(name="李娜", email="li.na@example.test").model_dump(),
            "requested_at": datetime.now(UTC).isoformat(),
            "reason": "satisfied",
        },
    )
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        survey_link_base="https://survey.example.test/s/",
    ):
        await produce(servers.kafka_bootstrap, own_topics.followup, [requested, requested])
        (mail,) = await eventually(
            lambda: _async(mail_sink.for_complaint(complaint, "survey_invitation"))
        )
    text = text_of(mail)
    token = text.split("https://survey.example.test/s/", 1)[1].split()[0]
    assert len(token) >= 40
    (invited,) = await read_until(
        servers.kafka_bootstrap,
        own_topics.notify,
        lambda kept: len(kept) >= 1,
        lambda r: r.key == str(complaint) and r.value["type"] == "survey.invited",
    )
    data = invited.value["data"]
    assert data["survey_id"] == str(survey_id)
    assert data["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(invited.value)  # only the hash travels


def test_webhook_signature_verifies_and_refuses_tampering():
    secret, body, now = WEBHOOK_SECRET.encode(), b'{"text":"hi"}', 1_800_000_000
    header = sign(secret, now, body)
    assert header.startswith(f"t={now},v1=")
    assert verify(secret, header, body, now + 10)
    assert not verify(secret, header, b'{"text":"ho"}', now)  # body changed
    assert not verify(b"another secret", header, body, now)
    assert not verify(secret, header, body, now + 3600)  # replayed an hour later
    assert not verify(secret, "garbage", body, now)


async def test_warnings_and_breaches_go_to_the_owner_and_due_call_backs_to_their_team(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()
    now = datetime.now(UTC)
    taken = CaseAssigned(
        complaint_id=complaint, at=now, team="remote-desk", assignee="frontline-sun",
        assignee_name="Sun Hui", rung="frontline", reason=AssignmentReason.HANDED_OVER,
        by="frontline-li",
    )  # fmt: skip
    warning = CaseSlaWarning(
        complaint_id=complaint, at=now, clock="acknowledge", deadline=ACK_BY, fraction=0.8,
        level="frontline",
    )  # fmt: skip
    breach = CaseSlaBreached(
        complaint_id=complaint, at=now, clock="acknowledge", deadline=ACK_BY, level="frontline"
    )
    due = FollowupDue(
        callback_id=uuid.uuid4(), complaint_id=complaint, kind=CallbackKind.RESOLUTION,
        due_at=now, overdue_at=ACK_BY, attempt=1, team="remote-desk",
    )  # fmt: skip
    paused = CasePauseOverdue(complaint_id=complaint, at=now, paused_at=ACK_BY, reminder=1,
                              level="frontline", team="remote-desk")  # fmt: skip
    async with notify_replica(
        servers, own_topics, await databases.create("notify"), smtp_port=mail_sink.port
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.handling,
            [case_event(complaint, e) for e in (taken, warning, breach, paused)],
        )
        await produce(servers.kafka_bootstrap, own_topics.followup, [case_event(complaint, due)])

        def to(template: str):
            return _async(sorted(m["To"] for m in mail_sink.for_complaint(complaint, template)))

        sun = ["sun.hui@example.test"]
        assert await eventually(lambda: to("case_assigned")) == sun  # handed to her
        assert await eventually(lambda: to("sla_warning")) == sun  # she holds the case
        assert await eventually(lambda: to("sla_breached")) == sun
        assert await eventually(lambda: to("pause_overdue")) == sun  # the owner is reminded
        desk = ["li.wei@example.test", "sun.hui@example.test"]
        assert await eventually(lambda: to("callback_due")) == desk  # the team's queue
    (warned,) = mail_sink.for_complaint(complaint, "sla_warning")
    assert "80%" in text_of(warned) and "2026年11月25日 20:00" in text_of(warned)


async def test_two_replicas_share_the_delivery_and_send_each_message_once(
    servers, own_topics, databases, mail_sink
):
    complaints = [uuid.uuid4() for _ in range(40)]
    url = await databases.create("notify")
    group = f"notify-{uuid.uuid4().hex[:6]}"
    async with (
        notify_replica(servers, own_topics, url, smtp_port=mail_sink.port, consumer_group=group),
        notify_replica(servers, own_topics, url, smtp_port=mail_sink.port, consumer_group=group),
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [received(c, {"name": "李娜", "email": f"c{i}@example.test"})
             for i, c in enumerate(complaints)],
        )  # fmt: skip
        ours = {str(c) for c in complaints}

        def delivered():
            return _async({m["X-Complaint-Id"] for m in mail_sink.mails()} >= ours)

        await eventually(delivered)
    per_complaint = Counter(m["X-Complaint-Id"] for m in mail_sink.mails())
    assert all(per_complaint[c] == 1 for c in ours), per_complaint
