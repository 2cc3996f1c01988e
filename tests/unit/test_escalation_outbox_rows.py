"""Escalation writes its CloudEvents with orjson from data dumped once: byte for byte what
``new_event(...).to_bytes()`` writes, whatever the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.escalation.domain.case import Case
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from services.escalation.store.outbox_rows import cloudevent
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.handling import CaseSlaWarning

POLICY = load_policy(DEFAULT_POLICY)
SOURCE = "/complaint-platform/escalation"


def opening_events(received_at: datetime) -> list:
    case, events = Case.receive(
        POLICY, uuid.uuid4(), mode=Mode.ON_SITE, severity=Severity.MAJOR,
        channel=Channel.COUNTER, category="product_quality",
        customer=ContactCard(id="c-1", name="李娜", phone="+86 138 0013 8000", tier=Tier.VIP),
        received_at=received_at, information_complete=True, site="门店 \"7\"\n",
    )  # fmt: skip
    warning = CaseSlaWarning(
        complaint_id=case.complaint_id, at=received_at, clock="acknowledge",
        deadline=received_at + timedelta(hours=2), fraction=0.8, level="frontline",
    )  # fmt: skip
    return [*events, warning]


@pytest.mark.parametrize(
    ("received_at", "time"),
    [
        (datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC), datetime.now(UTC)),
        (
            datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=8))),
            datetime(2026, 11, 26, 1, 0, tzinfo=UTC),  # no microseconds
        ),
    ],
)
def test_the_cloudevent_bytes_are_the_envelopes(received_at: datetime, time: datetime) -> None:
    events = opening_events(received_at)
    assert len(events) >= 3
    for event in events:
        subject = str(event.complaint_id)
        out = cloudevent(SOURCE, subject, event, event.model_dump(mode="json"), time)
        expected = new_event(SOURCE, subject, event, time=time).model_copy(update={"id": out.id})
        assert out.payload.encode() == expected.to_bytes()
        assert (out.subject, out.type) == (subject, event.event_type)
        assert Envelope.from_bytes(out.payload.encode()) == expected
