"""Notify against the real PostgreSQL, Kafka, SMTP server (aiosmtpd) and HTTP receiver: the
people who may approve hear of a plan or a compensation waiting for them (the nearest holders
of the role, by their preference, with the deadline in the site's time zone, once per
event), and a customer whose complaint was closed as unreachable hears how to submit it
again, on whatever address they did leave."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import REGISTRY

from shared.events.common import Channel, Mode, Severity
from shared.events.envelope import new_event
from shared.events.handling import (
    AssignmentReason,
    CaseAssigned,
    CaseCompensationRequested,
    CaseOpened,
    CasePlanSubmitted,
    Money,
)
from shared.events.intake import ComplaintClosedUnreachable
from tests.integration.notify.conftest import SUPERVISOR, notify_replica, produce
from tests.integration.notify.receivers import html_of, text_of
from tests.integration.notify.test_notify import (
    ACK_BY,
    RECEIVED_AT,
    _async,
    case_event,
    received,
)
from tests.support.waiting import eventually

CLOSED_AT = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


async def test_approvers_hear_of_a_plan_and_a_compensation_waiting_for_them(
    servers, own_topics, databases, mail_sink, receiver, directory_file
):
    complaint = uuid.uuid4()
    now = datetime.now(UTC)
    opened = CaseOpened(
        complaint_id=complaint, opened_at=now, level="frontline", severity=Severity.MAJOR,
        tier="B", mode=Mode.ON_SITE, channel=Channel.COUNTER, category="product_quality",
        policy_version="t", deadlines={}, site="store-1",
    )  # fmt: skip
    assigned = CaseAssigned(
        complaint_id=complaint, at=now, team="store1-frontline", assignee="frontline-li",
        assignee_name="Li Wei", rung="frontline", reason=AssignmentReason.OPENED,
        by="system",
    )  # fmt: skip
    plan = CasePlanSubmitted(
        complaint_id=complaint, at=now, by="frontline-li", by_name="Li Wei",
        plan="Replace the <door> seal on Friday", approver_role="supervisor",
        approve_by=ACK_BY, level="frontline",
    )  # fmt: skip
    compensation = CaseCompensationRequested(
        complaint_id=complaint, at=now, by="frontline-li", by_name="Li Wei",
        amount=Money(amount=Decimal("800.00"), currency="CNY"), compensation="a voucher",
        resolution="seal replaced", approver_role="manager",
        limit=Money(amount=Decimal("200.00"), currency="CNY"),
    )  # fmt: skip
    submitted = case_event(complaint, plan)
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        staff_directory_file=str(directory_file),
        site_time_zones="store-1=Europe/Berlin",
        case_link="https://console.example.test/cases/{complaint_id}",
    ) as client:
        await produce(
            servers.kafka_bootstrap,
            own_topics.handling,
            [case_event(complaint, opened), case_event(complaint, assigned), submitted,
             submitted, case_event(complaint, compensation)],
        )  # fmt: skip

        def addressed(template: str) -> list[str]:
            return sorted(m["To"] for m in mail_sink.for_complaint(complaint, template))

        # A supervisor: none in the case's team, the duty supervisor among the site's teams,
        # by e-mail and by her webhook (her preference).
        assert await eventually(lambda: _async(addressed("plan_approval"))) == [
            "wang.fang@example.test"
        ]
        (hook,) = await eventually(lambda: _async(receiver.at("/hooks/duty-wang")))
        # A manager: none at the site; the department of the case's category.
        assert await eventually(lambda: _async(addressed("compensation_approval"))) == [
            "liu.yang@example.test"
        ]
        labels = {"topic": own_topics.handling, "type": "case.plan_submitted",
                  "outcome": "duplicate"}  # fmt: skip
        await eventually(lambda: _async(REGISTRY.get_sample_value("consumer_events_total", labels)))
        listed = await client.get(
            "/messages", params={"complaint_id": str(complaint), "template": "plan_approval"},
            headers=SUPERVISOR,
        )  # fmt: skip

    # Once per recipient and channel, though the event came twice.
    assert listed.status_code == 200
    assert sorted(m["channel"] for m in listed.json()["items"]) == ["email", "webhook"]
    assert len(mail_sink.for_complaint(complaint, "plan_approval")) == 1
    (mail,) = mail_sink.for_complaint(complaint, "plan_approval")
    text = text_of(mail)
    # Wang Fang reads Chinese; the deadline in the store's zone (12:00 UTC is 13:00 in Berlin).
    assert "2026年11月25日 13:00" in mail["Subject"] and "2026年11月25日 13:00" in text
    assert "值班主管" in text and "Replace the <door> seal on Friday" in text
    assert f"https://console.example.test/cases/{complaint}" in text
    assert "Replace the &lt;door&gt; seal" in html_of(mail)  # autoescaped
    assert hook.signature_ok and hook.json()["template"] == "plan_approval"
    (paid,) = mail_sink.for_complaint(complaint, "compensation_approval")
    assert "800.00 CNY" in paid["Subject"] and "200.00 CNY" in text_of(paid)
    assert f"https://console.example.test/cases/{complaint}" in text_of(paid)


async def test_approvers_of_a_case_nobody_near_holds_the_role_for_are_everyone_holding_it(
    servers, own_topics, databases, mail_sink
):
    complaint = uuid.uuid4()  # notify knows nothing of this case: no team, no site
    plan = CasePlanSubmitted(
        complaint_id=complaint, at=RECEIVED_AT, by="lead-zhang", plan="refund",
        approver_role="manager", approve_by=ACK_BY, level="team_lead",
    )  # fmt: skip
    async with notify_replica(
        servers, own_topics, await databases.create("notify"), smtp_port=mail_sink.port
    ):
        await produce(servers.kafka_bootstrap, own_topics.handling, [case_event(complaint, plan)])

        def addressed() -> list[str]:
            return sorted(m["To"] for m in mail_sink.for_complaint(complaint, "plan_approval"))

        managers = ["gao.lin@example.test", "liu.yang@example.test"]
        assert await eventually(lambda: _async(addressed() == managers and addressed()))
    gao = next(m for m in mail_sink.for_complaint(complaint, "plan_approval")
               if m["To"] == "gao.lin@example.test")  # fmt: skip
    # Gao Lin reads English; no site: the deployment's zone.
    assert "by 2026-11-25 20:00 (CST)" in text_of(gao)
    assert text_of(gao).startswith("Hello Gao Lin")


def closed(complaint_id: uuid.UUID, missing: list[str]):
    data = ComplaintClosedUnreachable(
        complaint_id=complaint_id, received_at=RECEIVED_AT, closed_at=CLOSED_AT,
        channel=Channel.WEB, category="product_quality", missing_fields=missing,
        reminders_sent=2,
    )  # fmt: skip
    return new_event("/test/intake", str(complaint_id), data)


async def test_a_complaint_closed_as_unreachable_tells_the_customer_how_to_submit_again(
    servers, own_topics, databases, mail_sink
):
    nameless, silent = uuid.uuid4(), uuid.uuid4()
    cause = {"cause": "complaint.closed_unreachable"}
    before = REGISTRY.get_sample_value("notify_no_recipient_total", cause) or 0
    async with notify_replica(
        servers,
        own_topics,
        await databases.create("notify"),
        smtp_port=mail_sink.port,
        new_complaint_link="https://complaints.example.test/new",
    ):
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [
                # An address but no name: told by mail.
                received(nameless, {"email": "anon@example.test", "language": "en"},
                         complete=False, missing=("customer.name",)),
                # Neither address nor number: nobody can be told (counted, not mailed).
                received(silent, {"name": "李娜"}, complete=False),
            ],
        )  # fmt: skip
        await eventually(lambda: _async(mail_sink.for_complaint(nameless, "information_needed")))
        await produce(
            servers.kafka_bootstrap,
            own_topics.intake,
            [closed(silent, ["customer.phone|customer.email"]),
             closed(nameless, ["customer.name"])],
        )  # fmt: skip
        (mail,) = await eventually(
            lambda: _async(mail_sink.for_complaint(nameless, "closed_unreachable"))
        )

        def counted():
            found = REGISTRY.get_sample_value("notify_no_recipient_total", cause) or 0
            return _async(found >= before + 1)

        await eventually(counted)
    assert mail["To"] == "anon@example.test"
    assert mail["Subject"].startswith("Your complaint has been closed")
    text = text_of(mail)
    assert "closed it on 2026-11-28 18:00 (CST)" in text and "(name)" in text
    assert "https://complaints.example.test/new" in text
    assert mail_sink.for_complaint(silent, "closed_unreachable") == []
