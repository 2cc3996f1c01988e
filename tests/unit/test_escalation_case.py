"""A case's state machine on the default policy: opening, the on-site ladder, remote clocks
with warnings and breaches, pauses, resolution, reopening and closing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.domain.case import Case, Forbidden, Status
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier
from shared.events.handling import CaseOutcome

POLICY = load_policy(DEFAULT_POLICY)
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def new_case(
    mode: Mode = Mode.REMOTE,
    severity: Severity = Severity.GENERAL,
    tier: Tier = Tier.C,
    complete: bool = True,
) -> tuple[Case, list]:
    return Case.receive(
        POLICY,
        uuid.uuid4(),
        mode=mode,
        severity=severity,
        channel=Channel.COUNTER if mode == Mode.ON_SITE else Channel.HOTLINE,
        category="service_attitude",
        customer=ContactCard(name="Li Wei", phone="+86 138 0000 0000", tier=tier),
        received_at=T0,
        information_complete=complete,
    )


def kinds(events) -> list[str]:
    return [e.event_type for e in events]


def climbs(events) -> list[tuple[str | None, str, str]]:
    return [(e.from_level, e.to_level, e.reason.value) for e in events
            if e.event_type == "case.escalated"]  # fmt: skip


# ---- opening --------------------------------------------------------------------------------


def test_a_remote_case_opens_at_the_frontline_with_its_three_clocks():
    case, events = new_case()
    assert kinds(events) == ["case.opened"]
    opened = events[0]
    assert opened.policy_version == POLICY.version == case.policy_version
    assert opened.deadlines == {
        "acknowledge": minutes(120),
        "investigate": minutes(24 * 60),
        "plan": minutes(48 * 60),
    }
    assert case.status == Status.OPEN and case.level == "frontline"


def test_a_major_complaint_goes_straight_to_senior_levels():
    case, events = new_case(severity=Severity.MAJOR)
    assert kinds(events) == ["case.opened", "case.escalated"]
    assert climbs(events) == [("frontline", "customer_relations", "severity")]
    assert case.clocks["acknowledge"].deadline == minutes(60)  # halved for major


def test_a_case_missing_contact_data_waits_with_no_clocks_until_completed():
    case, events = new_case(complete=False)
    assert events == [] and case.status == Status.AWAITING_INFORMATION
    assert case.wakeups() == [] and case.clocks == {}
    with pytest.raises(Forbidden):
        case.acknowledge(POLICY, "agent", minutes(1))
    events = case.start(POLICY, minutes(30))
    assert kinds(events) == ["case.opened"]
    assert case.clocks["acknowledge"].deadline == minutes(150)
    with pytest.raises(Forbidden, match="already open"):
        case.start(POLICY, minutes(31))


# ---- the on-site ladder ----------------------------------------------------------------------


def test_the_on_site_ladder_climbs_level_by_level_at_the_right_times():
    case, events = new_case(mode=Mode.ON_SITE)
    events += case.tick(POLICY, T0)  # the receiver reports to the team lead at once
    assert climbs(events) == [("frontline", "team_lead", "deadline")]
    assert climbs(case.tick(POLICY, minutes(14.9))) == []
    at_15 = case.tick(POLICY, minutes(15))
    assert climbs(at_15) == [("team_lead", "supervisor", "deadline")]
    assert [e.at for e in at_15 if e.event_type == "case.escalated"] == [minutes(15)]
    assert climbs(case.tick(POLICY, minutes(44))) == []
    assert climbs(case.tick(POLICY, minutes(45))) == [("supervisor", "customer_relations",
                                                      "deadline")]  # fmt: skip
    assert climbs(case.tick(POLICY, minutes(105))) == [
        ("customer_relations", "department_manager", "deadline")
    ]
    # A general complaint stops at the department manager.
    assert climbs(case.tick(POLICY, minutes(1000))) == []
    assert case.level == case.highest_level == "department_manager"
    assert all(w.kind != "case.climb" for w in case.wakeups())


def test_a_late_wakeup_takes_every_missed_step_at_its_own_time_once():
    case, _ = new_case(mode=Mode.ON_SITE, severity=Severity.MAJOR)
    # Major: starts at the supervisor, times halved, the executive office at the end.
    events = case.tick(POLICY, minutes(600))
    assert climbs(events) == [
        ("supervisor", "customer_relations", "deadline"),
        ("customer_relations", "department_manager", "deadline"),
        ("department_manager", "executive_office", "deadline"),
    ]
    escalations = [e.at for e in events if e.event_type == "case.escalated"]
    assert escalations == [minutes(15), minutes(45), minutes(75)]
    assert climbs(case.tick(POLICY, minutes(601))) == []


def test_recording_a_plan_stops_the_ladder():
    case, _ = new_case(mode=Mode.ON_SITE)
    case.tick(POLICY, T0)
    case.acknowledge(POLICY, "agent", minutes(2))
    case.investigate(POLICY, "agent", minutes(5), "cold soup")
    case.record_plan(POLICY, "agent", minutes(10), "a fresh dish and an apology")
    assert case.tick(POLICY, minutes(500)) == []
    assert case.level == "team_lead"
    ladder = [o for o in case.outcomes if o.clock == "ladder"]
    assert [(o.level, o.on_time) for o in ladder] == [("frontline", False), ("team_lead", True)]


# ---- remote clocks -----------------------------------------------------------------------------


def test_warning_at_80_percent_then_breach_and_escalation():
    case, _ = new_case()
    assert case.tick(POLICY, minutes(95)) == []
    warned = case.tick(POLICY, minutes(96))
    assert kinds(warned) == ["case.sla_warning"]
    assert warned[0].clock == "acknowledge" and warned[0].fraction == 0.8
    assert case.tick(POLICY, minutes(100)) == []  # warned once
    breached = case.tick(POLICY, minutes(120))
    assert kinds(breached) == ["case.sla_breached", "case.escalated"]
    assert climbs(breached) == [("frontline", "team_lead", "deadline")]
    assert breached[1].clock == "acknowledge"
    assert case.breached() and case.tick(POLICY, minutes(121)) == []


def test_meeting_clocks_in_time_records_timely_handling():
    case, _ = new_case(tier=Tier.VIP)
    case.acknowledge(POLICY, "agent:x", minutes(20))
    case.investigate(POLICY, "agent:x", minutes(60), "the courier lost the parcel")
    case.record_plan(POLICY, "agent:x", minutes(90), "send a new one today")
    events = case.resolve(POLICY, "agent:x", minutes(100), "resent", "a voucher")
    assert kinds(events) == ["case.resolved"]
    resolved = events[0]
    assert resolved.customer.phone == "+86 138 0000 0000" and resolved.tier == Tier.VIP
    assert resolved.clocks_met == {"acknowledge": True, "investigate": True, "plan": True}
    assert {(o.clock, o.on_time) for o in case.outcomes} == {
        ("acknowledge", True), ("investigate", True), ("plan", True)
    }  # fmt: skip
    assert case.wakeups() == []


def test_vip_targets_are_tighter():
    case, _ = new_case(tier=Tier.VIP)
    assert case.clocks["acknowledge"].deadline == minutes(60)
    assert case.clocks["acknowledge"].warnings == {0.8: minutes(48)}


# ---- pauses -----------------------------------------------------------------------------------


def test_a_pause_stops_the_clocks_and_keeps_the_paused_time():
    case, _ = new_case()
    case.pause(POLICY, "agent", minutes(30), "waiting for the customer's receipt")
    # Nothing runs while paused but the reminder that the pause lasts (see test_authority).
    assert case.status == Status.PAUSED
    assert [w.kind for w in case.wakeups()] == ["case.pause_reminder"]
    assert case.tick(POLICY, minutes(500)) == []
    events = case.resume(POLICY, "agent", minutes(90))
    assert case.status == Status.OPEN
    assert events[0].paused_seconds == events[0].total_paused_seconds == 3600
    # 90 of the 120 minutes were left when paused: due 90 minutes after the resume.
    assert case.clocks["acknowledge"].deadline == minutes(180)
    assert case.clocks["acknowledge"].warnings[0.8] == minutes(156)
    case.pause(POLICY, "agent", minutes(100), "again")
    case.resume(POLICY, "agent", minutes(110))
    assert case.paused_seconds == 4200
    assert case.clocks["acknowledge"].deadline == minutes(190)


def test_a_pause_returns_to_the_status_it_interrupted_and_shifts_the_ladder():
    case, _ = new_case(mode=Mode.ON_SITE)
    case.tick(POLICY, T0)
    case.acknowledge(POLICY, "agent", minutes(1))
    case.pause(POLICY, "agent", minutes(5), "customer stepped out")
    case.resume(POLICY, "agent", minutes(25))
    assert case.status == Status.ACKNOWLEDGED
    assert case.climb_due == minutes(35)  # 15 minutes for the team lead, plus 20 paused


def test_a_pause_on_a_business_calendar_keeps_counted_time():
    from services.escalation.domain.calendar import Calendar
    from services.escalation.domain.case import shift

    cal = POLICY.calendar("business")
    assert isinstance(cal, Calendar)
    deadline = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday 18:00 Shanghai
    paused = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # Friday 17:00: one hour left
    resumed = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00
    assert shift(cal.between, cal.add, deadline, paused, resumed) == resumed + timedelta(hours=1)


# ---- forbidden transitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "action", "reason"),
    [
        ([], "investigate", "cannot record findings: the case is open"),
        ([], "resolve", "cannot resolve: the case is open"),
        (["acknowledge"], "acknowledge", "cannot acknowledge: the case is acknowledged"),
        (["acknowledge"], "plan", "cannot record a plan"),
        (["pause"], "escalate", "a case that is paused cannot be escalated"),
        ([], "resume", "the case is open, not paused"),
        (["acknowledge", "resolve"], "pause", "a case that is resolved cannot be paused"),
        ([], "reopen", "a case that is open cannot be reopened"),
        ([], "confirm", "the case is open, not resolved"),
    ],
)
def test_a_forbidden_action_says_why_and_changes_nothing(steps, action, reason):
    case, _ = new_case()
    for step in steps:
        do(case, step, minutes(1))
    before = case.copy()
    with pytest.raises(Forbidden, match=reason):
        do(case, action, minutes(2))
    assert case == before


def do(case: Case, action: str, now: datetime):
    return {
        "acknowledge": lambda: case.acknowledge(POLICY, "a", now),
        "investigate": lambda: case.investigate(POLICY, "a", now, "f"),
        "plan": lambda: case.record_plan(POLICY, "a", now, "p"),
        "resolve": lambda: case.resolve(POLICY, "a", now, "r", None),
        "escalate": lambda: case.escalate(POLICY, "a", now, "why"),
        "pause": lambda: case.pause(POLICY, "a", now, "why"),
        "resume": lambda: case.resume(POLICY, "a", now),
        "reopen": lambda: case.reopen(POLICY, now, "unhappy"),
        "confirm": lambda: case.confirm_resolved(now, "followup", None),
    }[action]()


def test_escalation_by_hand_goes_one_up_and_stops_at_the_top():
    case, _ = new_case(severity=Severity.MAJOR)  # starts at customer_relations
    events = case.escalate(POLICY, "agent:1", minutes(1), "customer asks for a manager")
    assert climbs(events) == [("customer_relations", "department_manager", "manual")]
    assert events[0].by == "agent:1" and events[0].note == "customer asks for a manager"
    case.escalate(POLICY, "agent:1", minutes(2), "again")
    with pytest.raises(Forbidden, match="top of the ladder"):
        case.escalate(POLICY, "agent:1", minutes(3), "more")


# ---- after resolution --------------------------------------------------------------------------


def resolved_case() -> Case:
    case, _ = new_case()
    case.acknowledge(POLICY, "a", minutes(10))
    case.resolve(POLICY, "a", minutes(20), "refunded", None)
    return case


def test_reopening_starts_a_new_round_of_clocks_and_repeats():
    case = resolved_case()
    events = case.reopen(POLICY, minutes(3000), "still broken")
    assert kinds(events) == ["case.reopened"] and events[0].round == 2
    assert case.status == Status.REOPENED
    assert case.clocks["acknowledge"].deadline == minutes(3120)
    assert case.clocks["acknowledge"].met_at is None
    case.acknowledge(POLICY, "a", minutes(3010))
    case.resolve(POLICY, "a", minutes(3020), "replaced", None)
    assert case.reopen(POLICY, minutes(5000), "still unhappy")[0].round == 3


def test_the_follow_up_closes_a_resolved_case():
    case = resolved_case()
    events = case.confirm_resolved(minutes(4000), "followup", "satisfied")
    assert kinds(events) == ["case.closed"] and events[0].outcome == CaseOutcome.RESOLVED
    assert case.status == Status.CLOSED
    # A customer unhappy later still reopens it.
    assert kinds(case.reopen(POLICY, minutes(5000), "broke again")) == ["case.reopened"]


def test_suspend_and_end():
    case, _ = new_case()
    with pytest.raises(Forbidden, match="suspended only when moved"):
        case.suspend(POLICY, "s", minutes(1), CaseOutcome.ENDED_BY_AGREEMENT, None)
    events = case.suspend(POLICY, "s", minutes(1), CaseOutcome.MOVED_TO_COURT, "filed")
    assert kinds(events) == ["case.suspended"] and case.wakeups() == []
    events = case.end(POLICY, "s", minutes(2), CaseOutcome.MOVED_TO_COURT, "judgment")
    assert kinds(events) == ["case.closed"] and case.outcome == CaseOutcome.MOVED_TO_COURT
    with pytest.raises(Forbidden, match="closed cannot be ended"):
        case.end(POLICY, "s", minutes(3), CaseOutcome.ENDED_BY_AGREEMENT, None)
    with pytest.raises(Forbidden, match="cannot be reopened"):
        case.reopen(POLICY, minutes(4), "no")


def test_wakeups_name_every_pending_step():
    case, _ = new_case()
    due = sorted((w.due_at, w.kind, w.payload.get("clock")) for w in case.wakeups())
    assert due[:2] == [(minutes(96), "case.warn", "acknowledge"),
                       (minutes(120), "case.breach", "acknowledge")]  # fmt: skip
    assert len(due) == 6


def test_the_one_wakeup_is_the_earliest_pending_step_through_a_case_s_life():
    """The case's one timer (``next_wakeup``) is always the earliest of its pending steps:
    the scheduler wakes it then, and ``tick`` takes whatever is due."""

    def earliest(case: Case) -> datetime | None:
        return min((w.due_at for w in case.wakeups()), default=None)

    waiting, _ = new_case(complete=False)
    assert waiting.next_wakeup() is None == earliest(waiting)
    case, _ = new_case(mode=Mode.ON_SITE)
    seen = [case.next_wakeup()]
    assert seen[0] == earliest(case) == T0  # the frontline's climb: at once
    case.tick(POLICY, T0)
    for now, act in [
        (minutes(2), lambda n: case.acknowledge(POLICY, "agent", n)),
        (minutes(20), lambda n: case.tick(POLICY, n)),  # up a rung
        (minutes(21), lambda n: case.pause(POLICY, "agent", n, "stepped out")),
        (minutes(40), lambda n: case.resume(POLICY, "agent", n)),
        (minutes(41), lambda n: case.investigate(POLICY, "agent", n, "cold soup")),
        (minutes(42), lambda n: case.record_plan(POLICY, "agent", n, "a fresh dish")),
        (minutes(43), lambda n: case.resolve(POLICY, "agent", n, "served", None)),
    ]:
        act(now)
        assert case.next_wakeup() == earliest(case)
        seen.append(case.next_wakeup())
    assert seen[-1] is None  # resolved: nothing pending (paused: the reminder, as wakeups)
    remote, _ = new_case()
    remote.tick(POLICY, minutes(96))  # warned: the breach is next, not the warning again
    assert remote.next_wakeup() == earliest(remote) == minutes(120)
    # Nothing due: tick is a no-op, whatever the time is short of the wake-up.
    assert remote.tick(POLICY, minutes(119)) == [] and remote.next_wakeup() == minutes(120)
