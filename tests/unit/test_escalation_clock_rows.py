"""Escalation writes new cases' clocks with orjson: the document ``Clock.to_json`` makes (its
CloudEvents: tests/unit/test_outgoing_events.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson

from services.escalation.domain.case import Case, Clock
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier

POLICY = load_policy(DEFAULT_POLICY)


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
