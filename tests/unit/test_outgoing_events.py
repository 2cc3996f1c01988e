"""``shared.events.outgoing`` (escalation's and follow-up's own outbox SQL) writes byte for
byte the CloudEvent ``new_event(...).to_bytes()`` writes, whether it dumps the event's data
itself or is handed the dump (escalation's timeline rows hold the same data)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.escalation.domain.case import Case
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from shared.events.common import Channel, ContactCard, EventData, Mode, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import CallbackKind, FollowupScheduled, TierChange
from shared.events.handling import CaseSlaWarning
from shared.events.outgoing import cloudevent, new_ids

SOURCE = "/complaint-platform/followup"
POLICY = load_policy(DEFAULT_POLICY)


def scheduled(due: datetime, change: TierChange | None = None) -> FollowupScheduled:
    return FollowupScheduled(
        callback_id=uuid.uuid4(), complaint_id=None if change else uuid.uuid4(),
        kind=CallbackKind.RETENTION if change else CallbackKind.RESOLUTION,
        customer=ContactCard(id="c-1", tier=Tier.VIP), due_at=due,
        overdue_at=due + timedelta(hours=4, microseconds=17),
        reason='case resolved (round 2): 换货 "快"\n', round=None if change else 2,
        tier_change=change,
    )  # fmt: skip


def opening(received_at: datetime) -> list[EventData]:
    """A case's opening events (escalation), and a warning."""
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
    ("due", "time"),
    [
        (datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC), datetime.now(UTC)),
        (
            datetime(2026, 11, 26, 9, 0, tzinfo=timezone(timedelta(hours=8))),
            datetime(2026, 11, 26, 1, 0, tzinfo=UTC),  # no microseconds
        ),
    ],
)
def test_the_cloudevent_bytes_are_the_envelopes(due: datetime, time: datetime) -> None:
    change = TierChange.model_validate(
        {"from_tier": "A", "to_tier": "C", "month": "2026-10", "visits": 2, "previous_visits": 9}
    )
    events: list[EventData] = [scheduled(due), scheduled(due, change), *opening(due)]
    for event, handed in ((e, dumped) for e in events for dumped in (False, True)):
        subject = str(getattr(event, "complaint_id", None) or "c-1")
        [event_id] = new_ids(1)
        data = event.model_dump(mode="json") if handed else None
        out = cloudevent(SOURCE, subject, event, time, event_id, data=data)
        expected = new_event(SOURCE, subject, event, time=time).model_copy(update={"id": event_id})
        assert out.payload.encode() == expected.to_bytes()
        assert (out.id, out.subject, out.type) == (event_id, subject, event.event_type)
        assert Envelope.from_bytes(out.payload.encode()) == expected


def test_new_ids_are_distinct_version_4_uuids() -> None:
    ids = new_ids(1000)
    assert len(set(ids)) == 1000
    assert {i.version for i in ids} == {4} and {i.variant for i in ids} == {uuid.RFC_4122}
