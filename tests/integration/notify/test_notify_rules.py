"""Notify's pure rules (no server needed): quiet hours, the customer's language, what follows
a failed attempt, who on the staff is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain import recipients as who
from services.notify.domain.messages import (
    Recipient,
    Retry,
    Status,
    Template,
    after_failure,
    language_of,
    not_before,
)
from services.notify.domain.quiet_hours import QuietHours
from services.notify.rendering import Renderer
from services.notify.settings import TEMPLATES, NotifySettings
from shared.directory import DEMO_DIRECTORY, load_directory
from shared.events.notify import DeliveryChannel, RecipientKind

QUIET = QuietHours.parse("22:00-08:00", "Asia/Shanghai")
SMS = Recipient(RecipientKind.CUSTOMER, "customer", DeliveryChannel.SMS, "zh-CN")
MAIL = Recipient(RecipientKind.CUSTOMER, "customer", DeliveryChannel.EMAIL, "zh-CN")
CUSTOMER_TEMPLATES = {Template.RECEIPT, Template.INFORMATION_NEEDED, Template.FORWARDED,
                      Template.PLAN, Template.RESOLUTION, Template.SURVEY,
                      Template.CONTACT_REMINDER, Template.CLOSED_UNREACHABLE}  # fmt: skip
STAFF_SMS = Recipient(RecipientKind.STAFF, "duty-wang", DeliveryChannel.SMS, "zh-CN")


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("at", "released"),
    [
        (shanghai(25, 21, 59), shanghai(25, 21, 59)),  # before the window
        (shanghai(25, 22, 0), shanghai(26, 8, 0)),  # evening: next morning
        (shanghai(26, 3, 30), shanghai(26, 8, 0)),  # after midnight: this morning
        (shanghai(26, 8, 0), shanghai(26, 8, 0)),  # the window has ended
    ],
)
def test_quiet_hours_hold_customer_texts_until_morning(at, released):
    assert not_before(SMS, at, QUIET) == released
    assert not_before(MAIL, at, QUIET) == at  # e-mail is never held
    assert not_before(STAFF_SMS, at, QUIET) == at  # nor anything to staff


def test_a_window_within_one_day_and_no_window():
    lunch = QuietHours.parse("12:00-13:30", "Asia/Shanghai")
    assert lunch.release(shanghai(25, 12, 15)) == shanghai(25, 13, 30)
    assert QuietHours.parse("", "UTC").release(shanghai(25, 23)) == shanghai(25, 23)
    for bad in ("22:00", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(ValueError):
            QuietHours.parse(bad, "UTC")
    with pytest.raises(ValueError):
        QuietHours.parse("", "Mars/Olympus")


def test_the_customers_language():
    assert language_of("en-US", "李娜 洗衣机漏水", "zh-CN") == "en"  # stated wins
    assert language_of(None, "李娜 洗衣机漏水", "en") == "zh-CN"
    assert language_of(None, "Tom Lee the machine leaks", "zh-CN") == "en"
    assert language_of(None, "Größe", "zh-CN") == "zh-CN"  # neither: the default
    assert language_of("fr", None, "en") == "en"


def test_backoff_then_parked_as_failed():
    retry = Retry(3, timedelta(seconds=10), timedelta(seconds=15))
    now = shanghai(25, 12)
    first = after_failure(1, False, now, retry, MAIL, QUIET, jitter=1.0)
    assert first.status == Status.PENDING and first.next_attempt_at == now + timedelta(seconds=10)
    second = after_failure(2, False, now, retry, MAIL, QUIET, jitter=1.0)
    assert second.next_attempt_at == now + timedelta(seconds=15)  # capped
    assert after_failure(3, False, now, retry, MAIL, QUIET).status == Status.FAILED
    assert after_failure(1, True, now, retry, MAIL, QUIET).status == Status.FAILED  # permanent
    night = after_failure(1, False, shanghai_59(25, 21, 59, 59), retry, SMS, QUIET, jitter=1.0)
    assert night.next_attempt_at == shanghai(26, 8)  # a retry of a text waits out the night


def shanghai_59(day: int, hour: int, minute: int, second: int) -> datetime:
    return shanghai(day, hour, minute) + timedelta(seconds=second)


def test_staff_by_their_preference_and_teams_by_members_and_own_address():
    directory = load_directory(DEMO_DIRECTORY)
    duty = who.team(directory, "store1-duty", "zh-CN")
    assert {(r.kind, r.id, r.channel) for r in duty} == {
        (RecipientKind.STAFF, "duty-wang", DeliveryChannel.EMAIL),
        (RecipientKind.STAFF, "duty-wang", DeliveryChannel.WEBHOOK),
        (RecipientKind.TEAM, "store1-duty", DeliveryChannel.EMAIL),
    }
    assert [r.id for r in who.owner(directory, "store1-duty", "lead-zhang", "zh-CN")] == [
        "lead-zhang"
    ]
    assert who.team(directory, "no-such-team", "en") == []
    assert who.customer(None, [DeliveryChannel.EMAIL], False, "en")[0].channel == "email"
    contact = who.Contact("李娜", None, "+86 138 0013 8000", "zh-CN")
    assert who.customer(contact, [DeliveryChannel.EMAIL, DeliveryChannel.SMS], False, "en") == []
    (sms,) = who.customer(contact, [DeliveryChannel.EMAIL, DeliveryChannel.SMS], True, "en")
    assert sms.channel == DeliveryChannel.SMS and sms.language == "zh-CN"


CONTEXT = {
    "complaint_id": "0c6f2a9e-0000-4000-8000-000000000001", "reference": "0C6F2A9E",
    "name": "Tom <Lee>", "recipient_name": "Li Wei", "acknowledge_by": shanghai(25, 20),
    "link": "https://x.test/s/abc", "missing": ["name"], "plan": "replace <the> seal",
    "resolution": "replaced", "compensation": "a voucher", "expires_at": shanghai(30, 9),
    "department": "Furniture department", "answer_by": shanghai(26, 12),
    "case_link": "https://x.test/cases/1", "category": "product_quality", "severity": "general",
    "team_name": "Store 1 duty", "assignee_name": None, "rung": "supervisor",
    "reason": "opened", "note": None, "by_name": "Zhang Min", "from_level": "team_lead",
    "to_level": "supervisor", "clock": "ladder", "deadline": shanghai(25, 21), "percent": 80,
    "level": "supervisor", "kind": "resolution", "attempt": 1, "due_at": shanghai(25, 9),
    "overdue_at": shanghai(25, 11), "paused_at": shanghai(24, 10), "reminder": 2,
    "my_link": "https://x.test/c/tok", "closes_at": shanghai(30, 18),
    "approver_role": "customer_relations", "approve_by": shanghai(26, 18),
    "amount": "800.00 CNY", "limit": "500.00 CNY", "requested_at": shanghai(25, 10),
    "closed_at": shanghai(30, 18), "received_at": shanghai(23, 9),
    "new_complaint_link": "https://x.test/new",
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("template", list(Template))
def test_every_template_renders_in_both_languages(template, language):
    renderer = Renderer(TEMPLATES, QUIET.zone)
    content = renderer.render(template, language, CONTEXT)
    assert content.subject and "\n" not in content.subject and "0C6F2A9E" in content.subject
    assert content.text.strip() and content.html and "<html" in content.html
    assert "<Lee>" not in content.html and "<the>" not in content.html  # autoescaped
    customer = template in CUSTOMER_TEMPLATES
    assert (content.sms is not None) == customer  # texts only to customers


def test_approvers_are_the_nearest_holders_of_the_role_else_everyone_holding_it():
    directory = load_directory(DEMO_DIRECTORY)

    def ids(*args, **kwargs) -> list[str]:
        return sorted({r.id for r in who.approvers(directory, *args, **kwargs)})

    # The case's team has none; its site's teams have the duty supervisor.
    assert ids("supervisor", "store1-frontline", "store-1", "product_quality") == ["duty-wang"]
    # No manager at store 1: the department of the case's category (appliances, not the
    # furniture department that takes every category).
    assert ids("manager", "store1-frontline", "store-1", "product_quality") == ["manager-liu"]
    assert ids("manager", "store1-frontline", "store-1", "sofa") == ["manager-gao"]
    # Nobody near the case: everyone with the role; a role nobody holds: nobody.
    assert ids("customer_relations", "store1-frontline", "store-1", None) == ["relations-chen"]
    assert ids("executive", None, None, None) == ["exec-zhao"]
    assert ids("no_such_role", "store1-frontline", "store-1", None) == []
    # The requester cannot approve their own request: the next circle is asked.
    assert ids("manager", None, None, "product_quality", exclude="manager-liu") == ["manager-gao"]
    # Each by their preference: the duty supervisor by mail and webhook.
    channels = {r.channel for r in who.approvers(directory, "supervisor", None, "store-2", None)}
    assert channels == {DeliveryChannel.EMAIL, DeliveryChannel.WEBHOOK}


def test_times_in_the_sites_zone_and_roles_in_the_readers_words():
    renderer = Renderer(TEMPLATES, QUIET.zone)
    berlin = CONTEXT | {"time_zone": "Europe/Berlin"}
    here = renderer.render(Template.PLAN_APPROVAL, "en", CONTEXT)
    there = renderer.render(Template.PLAN_APPROVAL, "en", berlin)
    assert "2026-11-26 18:00 (CST)" in here.text and "2026-11-26 18:00 (CST)" in here.html
    assert "2026-11-26 11:00 (CET)" in there.text and "2026-11-26 11:00 (CET)" in there.subject
    assert "customer relations officer" in here.text
    zh = renderer.render(Template.PLAN_APPROVAL, "zh-CN", berlin)
    assert "2026年11月26日 11:00" in zh.text and "客户关系专员" in zh.text
    assert "replace &lt;the&gt; seal" in zh.html


def test_site_time_zones_setting():
    settings = NotifySettings(site_time_zones="store-9=Europe/Berlin, store-10=Asia/Tokyo")
    assert settings.zone_of("store-9") == "Europe/Berlin"
    assert settings.zone_of("store-1") == settings.zone_of(None) == "Asia/Shanghai"
    assert NotifySettings(site_time_zones='{"s": "UTC"}').zone_of("s") == "UTC"
    for bad in ("store-9", "store-9=Mars/Olympus"):
        with pytest.raises(ValueError, match="site_time_zones"):
            NotifySettings(site_time_zones=bad)
