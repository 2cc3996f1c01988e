"""Escalation writes its CloudEvents and new cases' clocks with orjson: byte for byte what
``new_event(...).to_bytes()`` writes, and the document ``Clock.to_json`` makes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from services.escalation.domain.case import Case, Clock
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.handling import CaseSlaWarning
from shared.events.outgoing import cloudevent, new_ids

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
        out = cloudevent(SOURCE, subject, event, time, data=event.model_dump(mode="json"))
        expected = new_event(SOURCE, subject, event, time=time).model_copy(update={"id": out.id})
        assert out.payload.encode() == expected.to_bytes()
        assert (out.subject, out.type) == (subject, event.event_type)
        assert Envelope.from_bytes(out.payload.encode()) == expected


def test_orjson_writes_a_clock_as_its_to_json_document() -> None:
    """New cases' rows hand the clocks to orjson as they are (repository.case_rows)."""
    east = timezone(timedelta(hours=8))
    start = datetime(2026, 11, 26, 9, 0, tzinfo=east)
    clocks = {
        "acknowledge": Clock(
            name="acknowledge", calendar="always", met_by="acknowledge", escalate=True,
            started_at=start, deadline=start + timedelta(hours=2, microseconds=17),
            warnings={0.5: start + timedelta(hours=1), 0.75: start + timedelta(minutes=90),
                      1.0: start + timedelta(hours=2)},
            warned=[0.5, 0.75], met_at=datetime(2026, 11, 26, 2, 0, 0, 123, tzinfo=UTC),
        ),
        "respond": Clock(
            name="respond", calendar="business", met_by="plan", escalate=False,
            started_at=datetime.now(UTC), deadline=datetime.now(UTC) + timedelta(days=3),
            warnings={}, breached_at=datetime(2026, 11, 29, tzinfo=UTC),
        ),
    }  # fmt: skip
    case, _ = Case.receive(
        POLICY, uuid.uuid4(), mode=Mode.REMOTE, severity=Severity.GENERAL,
        channel=Channel.HOTLINE, category="delivery",
        customer=ContactCard(id="c-2", name="王芳", phone="+86 139 0000 0000", tier=Tier.C),
        received_at=datetime.now(UTC), information_complete=True,
    )  # fmt: skip
    for found in (clocks, case.clocks):
        written = orjson.loads(orjson.dumps(found, option=orjson.OPT_NON_STR_KEYS))
        assert written == {n: c.to_json() for n, c in found.items()}


def test_event_ids_are_random_version_4_uuids() -> None:
    ids = new_ids(500)
    assert len(set(ids)) == 500
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    assert new_ids(0) == []
