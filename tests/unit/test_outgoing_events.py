"""Follow-up's batch path writes its CloudEvents with ``shared.events.outgoing``: byte for
byte what ``new_event(...).to_bytes()`` writes (the event's data dumped here, by the writer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.events.common import ContactCard, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import CallbackKind, FollowupScheduled, TierChange
from shared.events.outgoing import cloudevent, new_ids

SOURCE = "/complaint-platform/followup"


def scheduled(due: datetime, change: TierChange | None = None) -> FollowupScheduled:
    return FollowupScheduled(
        callback_id=uuid.uuid4(), complaint_id=None if change else uuid.uuid4(),
        kind=CallbackKind.RETENTION if change else CallbackKind.RESOLUTION,
        customer=ContactCard(id="c-1", tier=Tier.VIP), due_at=due,
        overdue_at=due + timedelta(hours=4, microseconds=17),
        reason='case resolved (round 2): 换货 "快"\n', round=None if change else 2,
        tier_change=change,
    )  # fmt: skip


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
    for event in (scheduled(due), scheduled(due, change)):
        subject = str(event.complaint_id or "c-1")
        [event_id] = new_ids(1)
        out = cloudevent(SOURCE, subject, event, time, event_id)
        expected = new_event(SOURCE, subject, event, time=time).model_copy(update={"id": event_id})
        assert out.payload.encode() == expected.to_bytes()
        assert (out.id, out.subject, out.type) == (event_id, subject, event.event_type)
        assert Envelope.from_bytes(out.payload.encode()) == expected


def test_new_ids_are_distinct_version_4_uuids() -> None:
    ids = new_ids(1000)
    assert len(set(ids)) == 1000
    assert {i.version for i in ids} == {4} and {i.variant for i in ids} == {uuid.RFC_4122}
