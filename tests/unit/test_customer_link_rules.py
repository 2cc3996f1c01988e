"""The rules of the customer's link and of chasing incomplete complaints, pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.console.domain.my_complaint import contact_body, page_of
from services.intake.domain.contact_chase import CLOSE, REMINDER, ChasePolicy, schedule
from services.intake.domain.customer_link import (
    LinkPolicy,
    LinkState,
    expires_at,
    link_state,
    token_digest,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_an_incomplete_complaint_is_reminded_then_closed() -> None:
    steps = schedule(T0, ChasePolicy((DAY, 3 * DAY), 7 * DAY))
    assert [(s.kind, s.due_at, s.reminder) for s in steps] == [
        (REMINDER, T0 + DAY, 1),
        (REMINDER, T0 + 3 * DAY, 2),
        (CLOSE, T0 + 7 * DAY, 0),
    ]
    assert [s.kind for s in schedule(T0, ChasePolicy((), DAY))] == [CLOSE]


@pytest.mark.parametrize(
    ("reminders", "close"), [((3 * DAY, DAY), 7 * DAY), ((DAY, 7 * DAY), 7 * DAY)]
)
def test_reminders_out_of_order_or_after_closing_are_refused(reminders, close) -> None:
    with pytest.raises(ValueError):
        ChasePolicy(reminders, close)


def test_the_link_is_valid_while_handled_and_for_a_while_after_closing() -> None:
    policy = LinkPolicy(timedelta(days=90))
    for status in ("awaiting_information", "open", "resolved", "reopened"):
        assert expires_at(status, T0, policy) is None
        assert link_state(status, T0 - 1000 * DAY, False, T0, policy) == LinkState.VALID
    for status in ("closed", "rejected", "closed_unreachable"):
        assert expires_at(status, T0, policy) == T0 + 90 * DAY
        assert link_state(status, T0, False, T0 + 89 * DAY, policy) == LinkState.VALID
        assert link_state(status, T0, False, T0 + 90 * DAY, policy) == LinkState.EXPIRED
    # Erased personal data: the link shows nothing any more.
    assert link_state("open", T0, True, T0, policy) == LinkState.EXPIRED


def test_only_the_hash_is_kept() -> None:
    digest = token_digest("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert "abc" not in digest


def test_the_page_says_it_in_plain_words_and_marks_kept_promises() -> None:
    found = {
        "complaint_id": "0b8c2a4e-0000-0000-0000-000000000000",
        "reference": "0B8C2A4E",
        "status": "acknowledged",
        "deadlines": {"acknowledge": "2026-11-25T10:00:00+00:00",
                      "plan": "2026-11-27T08:00:00+00:00", "ladder": "2026-11-25T09:00:00+00:00"},
        "missing_fields": [],
        "history": [{"status": "received", "at": "2026-11-25T08:00:00+00:00"},
                    {"status": "open", "at": "2026-11-25T08:00:01+00:00"},
                    {"status": "acknowledged", "at": "2026-11-25T09:00:00+00:00"}],
    }  # fmt: skip
    page = page_of(found)
    assert page.summary == "We have been in touch and are looking into it."
    assert [s.words for s in page.steps] == [
        "Complaint received", "Passed to our team", "We contacted you",
    ]  # fmt: skip
    assert [(p.words, p.kept) for p in page.promises] == [
        ("We will contact you by", True),
        ("We will tell you how we will put it right by", False),
    ]  # the internal ladder is not a promise
    assert not page.needs_contact


def test_the_form_asks_for_what_is_missing() -> None:
    page = page_of(
        {"complaint_id": "x", "status": "awaiting_information", "history": [],
         "missing_fields": ["customer.name", "customer.phone|customer.email"]}
    )  # fmt: skip
    assert page.needs_contact
    assert page.missing == [["name"], ["phone", "email"]]
    assert page.fields == ["name", "phone", "email"]
    assert contact_body({"name": " Wu ", "phone": "", "csrf_token": "t"}) == {"name": "Wu"}
