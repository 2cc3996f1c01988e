"""Who may decide what on a case, on the default policy: plan approval per severity with its
own clock, compensation limits per role and the request/approval flow, abuse flags and the
refusal of service, pause reminders, and the paused time the closing events carry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.escalation.domain.assignment import Actor
from services.escalation.domain.authority import Amount, CompensationLimits, NotPermitted
from services.escalation.domain.case import Case, Forbidden, OverLimit, Status
from services.escalation.policy_file import DEFAULT_POLICY, PolicyError, load_policy, parse_policy
from shared.directory import StaffRole
from shared.events.common import Channel, ContactCard, Mode, Severity, Tier
from shared.events.intake import OutcomeKind

POLICY = load_policy(DEFAULT_POLICY)
# Monday 23 November 2026, 10:00 UTC = 18:00 in Shanghai: the business calendar is closed.
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

AGENT = Actor("frontline-li", "Li Wei", role="agent")
LEAD = Actor("lead-zhang", "Zhang Min", role="team_lead")
SUPERVISOR = Actor("duty-wang", "Wang Fang", may_override=True, role="supervisor")
MANAGER = Actor("manager-liu", "Liu Yang", may_override=True, role="manager")
EXECUTIVE = Actor("exec-zhao", "Zhao Lei", may_override=True, role="executive")


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def kinds(events) -> list[str]:
    return [e.event_type for e in events]


def investigating(severity: Severity = Severity.GENERAL, mode: Mode = Mode.REMOTE) -> Case:
    case, _ = Case.receive(
        POLICY,
        uuid.uuid4(),
        mode=mode,
        severity=severity,
        channel=Channel.COUNTER if mode == Mode.ON_SITE else Channel.HOTLINE,
        category="product_quality",
        customer=ContactCard(id="c-9", name="Zhou Jie", phone="+86 137 0000 0000", tier=Tier.B),
        received_at=T0,
        information_complete=True,
    )
    case.acknowledge(POLICY, AGENT.id, minutes(5))
    case.investigate(POLICY, AGENT.id, minutes(10), "the seal is torn")
    return case


def cny(amount: str) -> Amount:
    return Amount(Decimal(amount), "CNY")


# ---- plan approval -----------------------------------------------------------------------------


def test_a_general_plan_of_the_front_line_needs_no_approval():
    case = investigating(Severity.GENERAL)
    events = case.record_plan(POLICY, AGENT.id, minutes(20), "replace the seal", AGENT)
    assert kinds(events) == ["case.plan_recorded"]
    assert events[0].approved_by is None
    assert case.status == Status.PLAN_RECORDED and "approval" not in case.clocks


def test_a_major_plan_waits_for_a_managers_approval_on_its_own_business_hours_clock():
    case = investigating(Severity.MAJOR)
    events = case.record_plan(POLICY, AGENT.id, minutes(20), "replace the machine", AGENT)
    assert kinds(events) == ["case.plan_submitted"]
    submitted = events[0]
    assert submitted.approver_role == "manager"
    # Submitted at 18:20 Shanghai: 4 business hours are Tuesday 09:00-12:00 and 13:00-14:00.
    assert submitted.approve_by == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert case.status == Status.PLAN_AWAITING_APPROVAL
    assert case.clocks["approval"].deadline == submitted.approve_by
    assert case.clocks["plan"].met_at is None  # the customer is not told yet
    assert case.pending_plan is not None and case.pending_plan.plan == "replace the machine"
    # Nothing tells it to the customer, resolves it, or replaces it, until it is decided.
    with pytest.raises(Forbidden, match="plan_awaiting_approval"):
        case.resolve(POLICY, AGENT.id, minutes(21), "done", None)
    with pytest.raises(Forbidden, match="plan_awaiting_approval"):
        case.record_plan(POLICY, AGENT.id, minutes(21), "another", AGENT)


def test_a_drafter_who_holds_the_approving_role_approves_their_own_plan():
    case = investigating(Severity.MAJOR)
    events = case.record_plan(POLICY, MANAGER.id, minutes(20), "replace the machine", MANAGER)
    assert kinds(events) == ["case.plan_recorded"]
    assert events[0].approved_by == MANAGER.id and case.status == Status.PLAN_RECORDED


@pytest.mark.parametrize("who", [AGENT, LEAD, SUPERVISOR])
def test_only_the_approving_role_or_above_may_decide_a_plan(who):
    case = investigating(Severity.MAJOR)
    case.record_plan(POLICY, AGENT.id, minutes(20), "replace the machine", AGENT)
    before = case.copy()
    with pytest.raises(NotPermitted, match="needs the manager role"):
        case.approve_plan(POLICY, who, minutes(30))
    with pytest.raises(NotPermitted, match="needs the manager role"):
        case.reject_plan(POLICY, who, minutes(30), "no")
    assert case == before


def test_an_approved_plan_is_told_to_the_customer_and_meets_the_clocks():
    case = investigating(Severity.MAJOR)
    case.record_plan(POLICY, AGENT.id, minutes(20), "replace the machine", AGENT)
    events = case.approve_plan(POLICY, EXECUTIVE, minutes(80))  # above manager may too
    assert kinds(events) == ["case.plan_approved", "case.plan_recorded"]
    approved, recorded = events
    assert approved.submitted_by == AGENT.id and approved.waited_seconds == 3600
    assert (recorded.by, recorded.approved_by) == (AGENT.id, EXECUTIVE.id)
    assert recorded.plan == "replace the machine"
    assert case.status == Status.PLAN_RECORDED and case.pending_plan is None
    assert case.clocks["approval"].met_at == case.clocks["plan"].met_at == minutes(80)
    assert case.approval_wait_seconds == 3600
    assert ("approval", True) in {(o.clock, o.on_time) for o in case.outcomes}
    with pytest.raises(Forbidden, match="no plan awaits approval"):
        case.approve_plan(POLICY, MANAGER, minutes(81))
    resolved = case.resolve(POLICY, AGENT.id, minutes(90), "replaced", None)[0]
    assert resolved.approval_wait_seconds == 3600
    assert resolved.clocks_met["approval"] is True


def test_a_rejected_plan_must_be_redrafted_and_waits_again():
    case = investigating(Severity.MAJOR)
    case.record_plan(POLICY, AGENT.id, minutes(20), "a voucher", AGENT)
    events = case.reject_plan(POLICY, MANAGER, minutes(50), "offer a replacement")
    assert kinds(events) == ["case.plan_rejected"]
    assert events[0].reason == "offer a replacement" and events[0].waited_seconds == 1800
    assert case.status == Status.INVESTIGATING and case.pending_plan is None
    again = case.record_plan(POLICY, AGENT.id, minutes(60), "a replacement", AGENT)
    assert kinds(again) == ["case.plan_submitted"]
    assert case.clocks["approval"].started_at == minutes(60)
    assert kinds(case.approve_plan(POLICY, MANAGER, minutes(70)))[-1] == "case.plan_recorded"
    assert case.approval_wait_seconds == 1800 + 600


def test_a_case_ended_while_its_plan_awaits_approval_awaits_nothing_more():
    case = investigating(Severity.MAJOR)
    case.request_compensation(POLICY, AGENT, minutes(15), "refund", None, cny("5000"))
    case.record_plan(POLICY, AGENT.id, minutes(20), "replace it", AGENT)
    case.end(POLICY, MANAGER.id, minutes(50), "moved_to_court", None)
    assert case.pending_plan is None and case.compensation_request is None
    assert case.approval_wait_seconds == 1800 and case.wakeups() == []


def test_an_approval_clock_that_runs_out_warns_then_escalates():
    case = investigating(Severity.MAJOR)  # starts at customer relations
    submitted = case.record_plan(POLICY, AGENT.id, minutes(20), "replace it", AGENT)[0]
    deadline = submitted.approve_by
    events = case.tick(POLICY, deadline)
    warning = [e for e in events if e.event_type == "case.sla_warning" and e.clock == "approval"]
    assert [w.fraction for w in warning] == [0.8]
    breached = [e for e in events if e.event_type == "case.sla_breached"]
    assert [(b.clock, b.at) for b in breached] == [("approval", deadline)]
    climbed = [e for e in events if e.event_type == "case.escalated"]
    assert [(c.from_level, c.to_level, c.clock) for c in climbed] == [
        ("customer_relations", "department_manager", "approval")
    ]
    assert ("approval", False) in {(o.clock, o.on_time) for o in case.outcomes}
    # It still waits for the decision, now at the department manager's.
    assert case.status == Status.PLAN_AWAITING_APPROVAL


def test_a_pause_stops_the_approval_clock_too():
    case = investigating(Severity.MAJOR)
    submitted = case.record_plan(POLICY, AGENT.id, minutes(20), "replace it", AGENT)[0]
    case.pause(POLICY, AGENT.id, minutes(21), "the customer is travelling")
    assert case.tick(POLICY, submitted.approve_by + timedelta(hours=1)) == []
    case.resume(POLICY, AGENT.id, datetime(2026, 11, 30, 1, 0, tzinfo=UTC))  # Mon 09:00 local
    assert case.status == Status.PLAN_AWAITING_APPROVAL
    # All four business hours were left: Monday 09:00-12:00 and 13:00-14:00 Shanghai.
    assert case.clocks["approval"].deadline == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


# ---- compensation authority --------------------------------------------------------------------


def test_limits_per_role_rise_and_unlisted_roles_take_the_one_below():
    limits = POLICY.authority.compensation
    assert [limits.limit(r) for r in StaffRole] == [
        Decimal(100), Decimal(300), Decimal(1000), Decimal(3000), Decimal(20000), None, None
    ]  # fmt: skip
    assert limits.limit(None) == 0
    assert limits.lowest_role_covering(Decimal("100.00")) == StaffRole.AGENT
    assert limits.lowest_role_covering(Decimal("100.01")) == StaffRole.TEAM_LEAD
    assert limits.lowest_role_covering(Decimal(10**6)) == StaffRole.EXECUTIVE
    gaps = CompensationLimits("CNY", {StaffRole.TEAM_LEAD: Decimal(50)})
    assert gaps.limit(StaffRole.AGENT) == 0 and gaps.limit(StaffRole.ADMIN) == 50
    assert CompensationLimits().covers(None, Decimal(10**9))  # a policy without limits


def test_a_compensation_within_ones_limit_resolves_at_once():
    case = investigating()
    events = case.resolve(POLICY, AGENT.id, minutes(20), "replaced the seal", "two dishes",
                          cny("100"), AGENT)  # fmt: skip
    (resolved,) = events
    assert (resolved.compensation, str(resolved.compensation_amount)) == ("two dishes", "100 CNY")
    assert resolved.compensation_approved_by is None and case.status == Status.RESOLVED


def test_a_compensation_above_ones_limit_is_refused_naming_the_limit_and_the_role():
    case = investigating()
    before = case.copy()
    with pytest.raises(OverLimit) as refused:
        case.resolve(POLICY, AGENT.id, minutes(20), "refund", None, cny("500"), AGENT)
    assert refused.value.needed == StaffRole.SUPERVISOR
    message = str(refused.value)
    assert "needs the supervisor role" in message and "limit of 100 CNY" in message
    assert "compensation_amount" in message
    assert case == before
    # Free text without an amount is not checked (compatible with earlier callers).
    case.resolve(POLICY, AGENT.id, minutes(20), "refund", "a big voucher", None, AGENT)


def test_a_request_goes_through_when_someone_whose_limit_covers_it_approves():
    case = investigating()
    events = case.request_compensation(POLICY, AGENT, minutes(20), "refund", "refund", cny("500"),
                                       OutcomeKind.REFUND)  # fmt: skip
    (requested,) = events
    assert requested.approver_role == "supervisor" and str(requested.limit) == "100 CNY"
    assert case.status == Status.INVESTIGATING and case.compensation_request is not None
    with pytest.raises(Forbidden, match="awaits approval already"):
        case.request_compensation(POLICY, AGENT, minutes(21), "refund", None, cny("400"))
    with pytest.raises(NotPermitted, match="needs the supervisor role"):
        case.approve_compensation(POLICY, LEAD, minutes(25))  # 300 does not cover 500
    events = case.approve_compensation(POLICY, SUPERVISOR, minutes(30))
    assert kinds(events) == ["case.compensation_approved", "case.resolved"]
    approved, resolved = events
    assert (approved.by, approved.requested_by) == (SUPERVISOR.id, AGENT.id)
    assert (resolved.by, resolved.compensation_approved_by) == (AGENT.id, SUPERVISOR.id)
    assert resolved.compensation_approved_by_name == "Wang Fang"
    assert str(resolved.compensation_amount) == "500 CNY" and resolved.resolution == "refund"
    assert resolved.resolution_kind == OutcomeKind.REFUND
    assert case.status == Status.RESOLVED and case.compensation_request is None


def test_a_rejected_request_leaves_the_case_to_be_resolved_otherwise():
    case = investigating()
    case.request_compensation(POLICY, AGENT, minutes(20), "refund", None, cny("2000"))
    with pytest.raises(NotPermitted, match="customer_relations"):
        case.reject_compensation(POLICY, SUPERVISOR, minutes(21), "too much")
    (rejected,) = case.reject_compensation(POLICY, MANAGER, minutes(22), "offer a repair")
    assert rejected.reason == "offer a repair" and rejected.requested_by == AGENT.id
    assert case.compensation_request is None and case.status == Status.INVESTIGATING
    with pytest.raises(Forbidden, match="no compensation awaits"):
        case.approve_compensation(POLICY, MANAGER, minutes(23))


def test_requests_within_ones_limit_or_in_another_currency_are_refused():
    case = investigating()
    with pytest.raises(Forbidden, match="within your limit"):
        case.request_compensation(POLICY, SUPERVISOR, minutes(20), "refund", None, cny("500"))
    with pytest.raises(Forbidden, match="in CNY, not USD"):
        case.request_compensation(POLICY, AGENT, minutes(20), "refund", None,
                                  Amount(Decimal(500), "USD"))  # fmt: skip


# ---- abusive customers -------------------------------------------------------------------------


def test_anyone_flags_abuse_a_supervisor_refuses_service_and_lifts_it():
    case = investigating()
    (flagged,) = case.flag_abuse(AGENT, minutes(20), "shouted at and pushed the cashier")
    assert (flagged.by, flagged.customer_id) == (AGENT.id, "c-9")
    with pytest.raises(NotPermitted, match="needs the supervisor role"):
        case.refuse_service(POLICY, LEAD, minutes(21), "policy art. 8")
    (refused,) = case.refuse_service(POLICY, SUPERVISOR, minutes(30), "policy art. 8")
    assert (refused.customer_id, refused.flags, refused.by) == ("c-9", 1, SUPERVISOR.id)
    assert case.status == Status.SERVICE_REFUSED and case.refusal is not None
    assert case.wakeups() == [] and case.tick(POLICY, minutes(10_000)) == []
    deadline = case.clocks["plan"].deadline
    with pytest.raises(Forbidden):
        case.resolve(POLICY, AGENT.id, minutes(40), "done", None)
    (lifted,) = case.lift_refusal(POLICY, SUPERVISOR, minutes(90), "apologised in writing")
    assert case.status == Status.INVESTIGATING and case.refusal is None
    assert case.paused_seconds == 3600  # the clocks stood still for the hour
    assert case.clocks["plan"].deadline > deadline and lifted.deadlines["plan"] > deadline
    with pytest.raises(Forbidden, match="not refused"):
        case.lift_refusal(POLICY, SUPERVISOR, minutes(91), "again")


def test_service_is_refused_only_after_abuse_was_flagged():
    case = investigating()
    with pytest.raises(Forbidden, match="no abuse is flagged"):
        case.refuse_service(POLICY, MANAGER, minutes(20), "rude")


def test_a_refusal_during_a_pause_returns_to_the_pause_when_lifted():
    case = investigating()
    case.pause(POLICY, AGENT.id, minutes(20), "waiting for photos")
    case.flag_abuse(AGENT, minutes(21), "threats on the phone")
    case.refuse_service(POLICY, SUPERVISOR, minutes(22), "art. 8")
    case.lift_refusal(POLICY, SUPERVISOR, minutes(30), "a mistake")
    assert case.status == Status.PAUSED and case.paused_at == minutes(20)
    case.resume(POLICY, AGENT.id, minutes(50))
    assert case.status == Status.INVESTIGATING and case.paused_seconds == 1800


# ---- pauses that last --------------------------------------------------------------------------


def test_a_pause_that_lasts_reminds_the_owner_every_16_business_hours():
    case = investigating()
    case.pause(POLICY, AGENT.id, minutes(30), "waiting for the receipt")
    # Paused Monday 18:30 Shanghai: 16 business hours are Tuesday and Wednesday, 9 to 18.
    first = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert case.tick(POLICY, first - timedelta(seconds=1)) == []
    (reminder,) = case.tick(POLICY, first)
    assert reminder.event_type == "case.pause_overdue"
    assert (reminder.at, reminder.paused_at, reminder.reminder) == (first, minutes(30), 1)
    assert case.tick(POLICY, first + timedelta(hours=1)) == []  # once
    # Then Thursday and Friday: the next one Friday 18:00 Shanghai.
    (second,) = case.tick(POLICY, datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert second.reminder == 2
    case.resume(POLICY, AGENT.id, datetime(2026, 11, 27, 11, 0, tzinfo=UTC))
    assert all(w.kind != "case.pause_reminder" for w in case.wakeups())


def test_the_closing_events_carry_the_paused_time():
    case = investigating()
    case.pause(POLICY, AGENT.id, minutes(20), "waiting")
    case.resume(POLICY, AGENT.id, minutes(50))
    resolved = case.resolve(POLICY, AGENT.id, minutes(60), "done", None)[0]
    assert resolved.paused_seconds == 1800
    case.reopen(POLICY, minutes(70), "still broken")
    case.pause(POLICY, AGENT.id, minutes(80), "waiting again")
    (closed,) = case.end(POLICY, SUPERVISOR.id, minutes(100), "ended_by_agreement", None)
    assert closed.paused_seconds == 1800 + 1200 and case.paused_at is None


# ---- the policy file ---------------------------------------------------------------------------

BASE = """
version: "t"
levels: [frontline, department_manager]
ceiling: {general: department_manager, major: department_manager}
modes:
  on_site: {start: {general: frontline}}
  remote: {start: {general: frontline}}
"""


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("approvals:\n  plan:\n    major: {by: boss, within: 4h}\n", "approvals.plan.major.by"),
        ("approvals:\n  plan:\n    major: {by: manager, within: 4h, calendar: office}\n",
         "unknown calendar 'office'"),
        ("approvals:\n  compensation:\n    currency: CNY\n    limits: {agent: 500, manager: 100}\n",
         "cannot be below"),
        ("approvals:\n  compensation:\n    currency: yuan\n    limits: {agent: 5}\n",
         "approvals.compensation.currency"),
        ("pause_reminder: {after: 0s}\n", "pause_reminder.after"),
    ],
)  # fmt: skip
def test_a_bad_approvals_section_names_the_line_and_the_problem(section, problem):
    with pytest.raises(PolicyError, match=problem.replace(".", r"\.")):
        parse_policy(BASE + section, "p.yaml")


def test_a_policy_without_the_sections_asks_no_approval_and_sets_no_limit():
    policy = parse_policy(BASE, "p.yaml")
    assert policy.authority.plan_approval == {} and policy.authority.pause_reminder is None
    assert policy.authority.compensation.covers("agent", Decimal(10**9))
