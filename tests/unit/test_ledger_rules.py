"""The ledger's rules, pure: folding events into an entry, summary figures from hand-built
entries, month-end selection, the calendar, the report-back clock, the taxonomy's errors."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.ledger.domain.entry import LedgerEntry, Status, fold
from services.ledger.domain.month_end import flagged
from services.ledger.domain.periods import (
    SiteClock,
    end_of,
    following,
    midnight,
    next_due,
    start_of,
)
from services.ledger.domain.review import (
    BUNDLED_TAXONOMY,
    ReportClockState,
    ReportState,
    is_overdue,
    load_taxonomy,
    reminder_at,
    report_clock,
    report_state,
)
from services.ledger.domain.summary import Targets, figures
from shared.config_files import ConfigError
from shared.events.ledger import SummaryPeriod

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def lifecycle(cid: uuid.UUID) -> list[tuple[str, dict]]:
    return [
        ("complaint.received", {
            "complaint_id": str(cid), "received_at": at(0), "channel": "web", "mode": "remote",
            "category": "product_quality", "severity": "general", "severity_reasons": [],
            "customer": {"id": "c-1", "name": "李娜", "phone": "+86 138 0013 8000", "tier": "A"},
            "description": "leaks", "subject": {"kind": "site", "reference": "store-7"},
            "information_complete": True, "acknowledge_by": at(1), "a_future_field": {"x": 1},
        }),
        ("case.opened", {"complaint_id": str(cid), "opened_at": at(0), "level": "frontline",
                         "severity": "general", "tier": "A", "channel": "web"}),
        ("case.assigned", {"complaint_id": str(cid), "at": at(0.1), "team": "store-7-floor",
                           "assignee": "p-li", "assignee_name": "Li", "rung": "frontline",
                           "reason": "opened"}),
        ("case.acknowledged", {"complaint_id": str(cid), "at": at(0.5), "by": "p-li",
                               "by_name": "Li", "level": "frontline"}),
        ("case.investigated", {"complaint_id": str(cid), "at": at(5), "by": "p-li",
                               "findings": "seal torn"}),
        ("case.sla_breached", {"complaint_id": str(cid), "at": at(50), "clock": "plan",
                               "deadline": at(48), "level": "frontline"}),
        ("case.escalated", {"complaint_id": str(cid), "at": at(50), "from_level": "frontline",
                            "to_level": "supervisor", "reason": "deadline"}),
        ("case.plan_recorded", {"complaint_id": str(cid), "at": at(51), "by": "p-wang",
                                "plan": "replace"}),
        ("case.resolved", {"complaint_id": str(cid), "at": at(60), "by": "p-wang",
                           "by_name": "Wang", "round": 1, "resolution": "replaced",
                           "compensation": "voucher 50", "highest_level": "supervisor",
                           "level": "supervisor", "clocks_met": {"acknowledge": True,
                           "investigate": True, "plan": False}}),
        ("survey.recorded", {"complaint_id": str(cid), "level": "dissatisfied", "score": 2,
                             "factors": ["speed"], "recorded_at": at(70), "cycle": 1}),
        ("complaint.reopened", {"complaint_id": str(cid), "at": at(71), "by": "p-zhao"}),
        ("case.reopened", {"complaint_id": str(cid), "at": at(71), "round": 2, "reason": "x"}),
        ("case.resolved", {"complaint_id": str(cid), "at": at(80), "by": "p-wang", "round": 2,
                           "resolution": "refunded", "clocks_met": {"acknowledge": True}}),
        ("survey.recorded", {"complaint_id": str(cid), "level": "satisfied", "score": 5,
                             "factors": [], "recorded_at": at(90), "cycle": 2}),
    ]  # fmt: skip


def folded(events: list[tuple[str, dict]]) -> LedgerEntry:
    entry = LedgerEntry(uuid.uuid4())
    for kind, data in events:
        fold(entry, kind, data)
    return entry


def test_fold_keeps_each_step_and_who_handled_it_without_contact_data():
    cid = uuid.uuid4()
    entry = folded(lifecycle(cid))
    assert entry.site == "store-7" and entry.channel == "web" and entry.tier == "A"
    assert entry.customer_id == "c-1"
    assert "李娜" not in str(entry.row()) and "138" not in str(entry.row())
    assert (entry.acknowledged_by, entry.acknowledged_by_name) == ("p-li", "Li")
    assert entry.findings == "seal torn" and entry.plan == "replace"
    assert entry.resolution == "refunded" and entry.resolved_at == T0 + timedelta(hours=80)
    assert entry.compensation is None  # the newest resolution's
    assert entry.round == 2 and entry.reopens == 1  # told by both services: counted once
    assert entry.rung == "supervisor" and entry.highest_rung == "supervisor"
    assert entry.team == "store-7-floor"
    assert entry.breached_clocks == ["plan"]
    assert [s["cycle"] for s in entry.satisfaction] == [1, 2]
    assert entry.latest_satisfaction["level"] == "satisfied"
    assert entry.status == Status.RESOLVED


def test_fold_does_not_depend_on_the_order_across_topics():
    events = lifecycle(uuid.uuid4())
    handling_first = [e for e in events if e[0].startswith("case.")] + [
        e for e in events if not e[0].startswith("case.")
    ]
    a, b = folded(events), folded(handling_first)
    for name in ("received_at", "site", "acknowledged_at", "resolved_at", "resolution",
                 "round", "reopens", "status", "breached_clocks", "satisfaction"):  # fmt: skip
        assert getattr(a, name) == getattr(b, name), name


def test_status_rejected_reopened_closed():
    data = {"received_at": at(0), "channel": "hotline", "category": "x",
            "customer": {"id": "c"}, "reason": "in_litigation"}  # fmt: skip
    rejected = folded([("complaint.rejected", data)])
    assert rejected.status == Status.REJECTED and rejected.rejection_reason == "in_litigation"
    entry = folded(lifecycle(uuid.uuid4())[:9])
    assert entry.status == Status.RESOLVED
    fold(entry, "case.reopened", {"at": at(100), "round": 2})
    assert entry.status == Status.OPEN
    fold(entry, "case.closed", {"at": at(120), "outcome": "ended_by_agreement"})
    assert entry.status == Status.CLOSED
    assert fold(entry, "some.new_event", {}) is False


def test_an_incomplete_complaint_closed_as_unreachable_is_closed_in_the_ledger():
    received = {"received_at": at(0), "channel": "web", "category": "delivery",
                "customer": {"id": "c"}, "information_complete": False}  # fmt: skip
    entry = folded([("complaint.received", received)])
    assert entry.status == Status.OPEN  # awaiting contact data: unresolved at month end
    closed = {"received_at": at(0), "closed_at": at(7 * 24), "channel": "web",
              "category": "delivery", "missing_fields": ["customer.name"],
              "reminders_sent": 2}  # fmt: skip
    assert fold(entry, "complaint.closed_unreachable", closed)
    assert entry.status == Status.CLOSED and entry.closed_outcome == "unreachable"


def e(
    n: int,
    *,
    channel="web",
    category="quality",
    site="s1",
    severity="general",
    valid=True,
    reason=None,
    customer=None,
    resolved=False,
    reopens=0,
    clocks=None,
    breached=(),
    answers=(),
    closed=False,
) -> LedgerEntry:
    entry = LedgerEntry(
        uuid.UUID(int=n),
        received_at=T0 + timedelta(days=n),
        channel=channel,
        category=category,
        site=site,
        severity=severity,
        valid=valid,
        rejection_reason=reason,
        customer_id=customer or f"c{n}",
        resolved_at=T0 + timedelta(days=n, hours=5) if resolved else None,
        closed_at=T0 + timedelta(days=n, hours=9) if closed else None,
        clocks_met=clocks or {},
        breached_clocks=list(breached),
        round=1 + reopens,
        satisfaction=[
            {"cycle": i + 1, "level": lvl, "score": s, "factors": f, "at": ""}
            for i, (lvl, s, f) in enumerate(answers)
        ],
    )
    return entry


def hand_built() -> list[LedgerEntry]:
    ok = {"acknowledge": True, "investigate": True, "plan": True}
    return [
        # 1: on time, very satisfied
        e(1, resolved=True, clocks=ok, answers=[("very_satisfied", 6, [])], customer="c-rep"),
        # 2: plan late at resolution; dissatisfied for speed and attitude, then satisfied
        e(
            2,
            channel="hotline",
            site="s2",
            resolved=True,
            reopens=1,
            clocks={"acknowledge": True, "investigate": True, "plan": False},
            answers=[("dissatisfied", 2, ["speed", "attitude"]), ("satisfied", 5, [])],
            customer="c-rep",
        ),
        # 3: still open, already breached its acknowledgement clock
        e(3, severity="major", breached=["acknowledge"], customer="c-rep"),
        # 4: open, nothing breached yet
        e(4, channel="counter", site="s2", category="service"),
        # 5: resolved on time, neutral for speed
        e(5, resolved=True, clocks=ok, answers=[("neutral", 4, ["speed"])]),
        # 6, 7: invalid
        e(6, valid=False, reason="out_of_warranty", severity=None, category="service"),
        e(7, valid=False, reason="out_of_warranty", severity=None, site="s3"),
    ]


def test_summary_figures_match_the_hand_computed_ones():
    f = figures(hand_built(), Targets())
    assert f["complaints"] == 7
    assert f["by_channel"] == {"web": 5, "counter": 1, "hotline": 1}
    assert f["by_category"] == {"quality": 5, "service": 2}
    assert f["by_site"] == {"s1": 4, "s2": 2, "s3": 1}
    assert f["validity"] == {"valid": 5, "invalid": 2,
                             "rejection_reasons": {"out_of_warranty": 2}}  # fmt: skip
    assert f["severity"] == {"general": 4, "major": 1}
    t = f["timely_handling"]
    # Measured: 1, 2, 3, 5 (4 has no clock yet); on time on every clock: 1 and 5.
    assert (t["complaints_measured"], t["complaints_on_time"], t["rate"]) == (4, 2, 0.5)
    assert t["target"] == 1.0 and t["meets_target"] is False
    assert t["clocks"]["acknowledge"] == {
        "met": 3, "breached": 1, "open_breached": 1, "measured": 4, "rate": 0.75,
        "target": 1.0, "meets_target": False,
    }  # fmt: skip
    assert t["clocks"]["plan"]["met"] == 2 and t["clocks"]["plan"]["breached"] == 1
    assert t["clocks"]["investigate"]["rate"] == 1.0
    s = f["satisfaction"]
    # Latest answer per complaint: 6 (1), 5 (2), 4 (5): 2 of 3 satisfied.
    assert (s["answers"], s["satisfied"], s["rate"]) == (3, 2, 0.6667)
    assert s["target"] == 0.85 and s["meets_target"] is False
    assert s["complaints_by_cycles_answered"] == {"1": 2, "2": 1}
    assert f["reopen"] == {"resolved_at_least_once": 3, "reopened": 1, "rate": 0.3333}
    # Answers below satisfied: complaint 2's first (speed, attitude), complaint 5's (speed).
    d = f["dissatisfaction_factors"]
    assert d["answers_below_satisfied"] == 2
    assert d["top"] == [
        {"factor": "speed", "answers": 2, "share_of_answers": 1.0},
        {"factor": "attitude", "answers": 1, "share_of_answers": 0.5},
    ]
    assert f["repeat_complainants"] == {
        "customers": 1, "complaints": 3, "list": [{"customer_id": "c-rep", "complaints": 3}]
    }  # fmt: skip


def test_targets_are_configuration():
    f = figures(hand_built(), Targets(satisfaction_rate=0.6, timely_handling_rate=0.5))
    assert f["satisfaction"]["meets_target"] is True
    assert f["timely_handling"]["meets_target"] is True


def test_month_end_flags_only_unresolved_complaints_received_before_the_end():
    end = midnight(date(2026, 12, 1), SHANGHAI)
    entries = [
        *hand_built(),
        e(40),  # received after the month end
        e(8, closed=True),
        e(9, resolved=True),
    ]
    found = flagged(entries, end)
    assert [f.complaint_id.int for f in found] == [3, 4]
    # received 5 Nov 01:00 UTC, the month ended 30 Nov 16:00 UTC: 25 days and 15 hours
    assert found[0].age_days == 25
    assert found[0].status == "open"


def test_periods_in_the_site_time_zone():
    assert start_of(SummaryPeriod.WEEK, date(2026, 11, 25)) == date(2026, 11, 23)  # Monday
    assert start_of(SummaryPeriod.QUARTER, date(2026, 11, 25)) == date(2026, 10, 1)
    assert start_of(SummaryPeriod.HALF_YEAR, date(2026, 11, 25)) == date(2026, 7, 1)
    assert end_of(SummaryPeriod.HALF_YEAR, date(2026, 7, 1)) == date(2027, 1, 1)
    # 23:59 on 30 November in Shanghai is 15:59 UTC: the month ends at 16:00 UTC.
    due = next_due(SummaryPeriod.MONTH, datetime(2026, 11, 30, 15, 59, tzinfo=UTC), SHANGHAI)
    assert (due.start, due.end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert due.at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    # A minute later it is December there: the next run is December's.
    due = next_due(SummaryPeriod.MONTH, datetime(2026, 11, 30, 16, 1, tzinfo=UTC), SHANGHAI)
    assert due.start == date(2026, 12, 1)
    nxt = following(due, SHANGHAI)
    assert (nxt.start, nxt.at) == (date(2027, 1, 1), datetime(2027, 1, 31, 16, tzinfo=UTC))
    week = next_due(SummaryPeriod.WEEK, datetime(2026, 11, 25, 12, tzinfo=UTC), SHANGHAI)
    assert week.at == datetime(2026, 11, 29, 16, tzinfo=UTC)


def test_a_scaled_clock_maps_calendar_instants_to_wall_times():
    wall = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    clock = SiteClock(datetime(2026, 11, 29, 15, 59, tzinfo=UTC), wall, scale=60)
    assert clock.now(wall + timedelta(seconds=1)) == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert clock.to_wall(datetime(2026, 11, 29, 16, 0, tzinfo=UTC)) == wall + timedelta(seconds=1)
    assert SiteClock().to_wall(wall) == wall


def test_report_clock_three_days_after_finishing():
    finished = datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = report_clock(finished, timedelta(days=3))
    assert clock.due_at == datetime(2026, 11, 23, 10, tzinfo=UTC)
    before, after = clock.due_at - timedelta(minutes=1), clock.due_at + timedelta(minutes=1)
    assert report_state(clock.due_at, None, None) == ReportState.AWAITING
    assert report_state(clock.due_at, None, after) == ReportState.OVERDUE
    assert report_state(clock.due_at, before, None) == ReportState.REPORTED
    assert report_state(clock.due_at, after, after) == ReportState.REPORTED_LATE
    assert report_state(None, None, None) == ReportState.NOT_DUE
    assert not is_overdue(clock.due_at, None, before)
    assert is_overdue(clock.due_at, None, after)
    assert is_overdue(clock.due_at, after, after)  # reported late stays a breach
    assert not is_overdue(clock.due_at, before, after)
    assert reminder_at(clock.due_at, timedelta(days=1), finished) == datetime(
        2026, 11, 22, 10, tzinfo=UTC
    )
    assert reminder_at(clock.due_at, timedelta(days=1), clock.due_at - timedelta(hours=2)) is None


def test_report_clock_state_follows_finishes_and_reopens():
    """The batch path's clock in memory: a resolution starts it, a close after it keeps it
    (its timer armed again), a reopen stops it, a second resolution restarts it; a recorded
    review never moves; a clock that ran out is kept by a close without a timer."""
    within, resolved = timedelta(days=3), datetime(2026, 11, 20, 10, tzinfo=UTC)
    clock = ReportClockState(uuid.uuid4())
    clock.finish("case.closed", None, "t", within)  # closed without a finish time: nothing
    assert not clock.changed and clock.armed is None
    clock.finish("case.resolved", resolved, "floor-1", within)
    due = resolved + within
    assert (clock.finished_at, clock.report_due_at, clock.team) == (resolved, due, "floor-1")
    assert clock.exists and clock.changed and clock.armed == due
    clock.finish("case.closed", resolved + timedelta(hours=5), "floor-2", within)
    assert (clock.report_due_at, clock.team, clock.armed) == (due, "floor-1", due)
    clock.reopen()
    assert clock.exists and clock.report_due_at is None and clock.armed is None
    again = resolved + timedelta(days=1)
    clock.finish("case.resolved", again, "floor-2", within)
    assert (clock.report_due_at, clock.team, clock.armed) == (
        again + within,
        "floor-2",
        again + within,
    )

    recorded = ReportClockState(uuid.uuid4(), exists=True, recorded=True, report_due_at=due)
    recorded.finish("case.resolved", again, "t", within)
    recorded.reopen()
    assert not recorded.changed and recorded.armed is None and recorded.report_due_at == due

    ran_out = ReportClockState(uuid.uuid4(), exists=True, report_due_at=due, went_overdue_at=due)
    ran_out.finish("case.suspended", again, "t", within)
    assert not ran_out.changed and ran_out.armed is None

    never = ReportClockState(uuid.uuid4())
    never.reopen()  # no review: a reopen writes none
    assert not never.changed and not never.exists


def test_bundled_taxonomy_loads():
    taxonomy = load_taxonomy(BUNDLED_TAXONOMY)
    assert taxonomy.find("product_defect") is not None and "other" in taxonomy.codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'version: "1"\nroot_causes:\n  - code: a\n    label: A\n  - code: a\n    label: B\n',
            "line 5: root_causes.1.code: the code 'a' appears twice",
        ),
        (
            'version: "1"\nroot_causes:\n  - code: Bad Code\n    label: A\n',
            "line 3: root_causes.0.code: a code is lower case letters",
        ),
        (
            'version: "1"\nroot_causes:\n  - code: a\n',
            "line 3: root_causes.0.label: Field required",
        ),
        ('version: "1"\nroot_causes: []\n', "line 2: root_causes:"),
        (
            'version: "1"\nroot_causes:\n  - code: a\n    label: A\n    colour: red\n',
            "line 5: root_causes.0.colour: Extra inputs are not permitted",
        ),
        ("version: [1\n", "not valid YAML"),
    ],
)
def test_taxonomy_errors_name_the_line(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "causes.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(path)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)
