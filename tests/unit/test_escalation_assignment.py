"""Who owns a case, on the default policy and the demo staff directory: routing on opening,
reassignment on every climb, and the rules of take, handover and forward."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.domain.assignment import Actor, Handover
from services.escalation.domain.case import Case, Forbidden
from services.escalation.policy_file import DEFAULT_POLICY, load_policy
from shared.directory import DEMO_DIRECTORY, FOLLOWUP_RUNG, load_directory
from shared.events.common import Channel, ContactCard, Mode, Severity
from shared.events.handling import CaseAssigned, CaseForwarded

POLICY = load_policy(DEFAULT_POLICY)
STAFF = load_directory(DEMO_DIRECTORY, rungs=[*POLICY.levels, FOLLOWUP_RUNG])
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LI = Actor("frontline-li", "Li Wei")
SUN = Actor("frontline-sun", "Sun Hui")
WANG = Actor("duty-wang", "Wang Fang", may_override=True)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def opened(
    mode: Mode = Mode.ON_SITE,
    site: str | None = "store-1",
    category: str = "service_attitude",
    severity: Severity = Severity.GENERAL,
) -> tuple[Case, list]:
    case, events = Case.receive(
        POLICY,
        uuid.uuid4(),
        mode=mode,
        severity=severity,
        channel=Channel.COUNTER if mode == Mode.ON_SITE else Channel.HOTLINE,
        category=category,
        customer=ContactCard(name="Li Na", tier="C"),
        received_at=T0,
        information_complete=True,
        site=site,
    )
    return case, case.assign_along(STAFF, events + case.tick(POLICY, T0))


def assigned(events) -> list[tuple[str, str | None, str]]:
    return [(e.rung, e.team, e.reason.value) for e in events if isinstance(e, CaseAssigned)]


def test_an_on_site_case_goes_to_its_store_front_line_then_at_once_to_the_team_lead():
    case, events = opened()
    assert [e.event_type for e in events] == [
        "case.opened", "case.assigned", "case.escalated", "case.assigned",
    ]  # fmt: skip
    assert assigned(events) == [
        ("frontline", "store1-frontline", "opened"),
        ("team_lead", "store1-team-leads", "escalated"),
    ]
    assert case.team == "store1-team-leads" and case.assignee is None
    assert events[0].site == "store-1"


def test_a_case_climbing_the_ladder_is_reassigned_at_each_rung_exactly_once():
    case, events = opened(site="store-2")
    # Nobody acts: 15 minutes later the supervisor, 30 later customer relations, then the
    # department; a late wake-up catching up several rungs still assigns each one.
    later = case.assign_along(STAFF, case.tick(POLICY, minutes(15 + 30 + 60 + 1)))
    assert assigned(events + later) == [
        ("frontline", "store2-frontline", "opened"),
        ("team_lead", "store2-team-leads", "escalated"),
        ("supervisor", "store2-duty", "escalated"),
        ("customer_relations", "customer-relations", "escalated"),
        ("department_manager", "dept-furniture", "escalated"),
    ]
    assert case.team == "dept-furniture"


def test_routing_uses_category_and_falls_back_to_teams_serving_every_site():
    case, events = opened(mode=Mode.REMOTE, site=None, category="product_quality")
    assert assigned(events) == [("frontline", "remote-desk", "opened")]
    case.escalate(POLICY, "frontline-li", minutes(1), "asks for a manager")
    case.escalate(POLICY, "frontline-li", minutes(2), "again")
    case.escalate(POLICY, "frontline-li", minutes(3), "again")
    events = case.assign_along(
        STAFF, case.escalate(POLICY, "frontline-li", minutes(4), "to the department")
    )
    assert assigned(events) == [("department_manager", "dept-appliances", "escalated")]
    assert events[-1].by == "frontline-li" and events[-1].note == "to the department"


def test_a_major_complaint_is_routed_to_the_senior_rung_it_starts_at():
    _, events = opened(severity=Severity.MAJOR)
    assert assigned(events)[-1] == ("supervisor", "store1-duty", "escalated")


def test_no_team_for_a_rung_keeps_the_case_with_its_team():
    case, _ = opened()
    empty = load_directory(DEMO_DIRECTORY).model_copy(update={"teams": []})
    (event,) = assigned(case.assign_along(empty, case.tick(POLICY, minutes(16))))
    assert event == ("supervisor", "store1-team-leads", "escalated")
    assert case.team == "store1-team-leads"


def test_take_then_handover_rules():
    case, _ = opened()
    (taken,) = case.take(LI, minutes(1))
    assert (taken.assignee, taken.assignee_name, taken.reason) == (
        "frontline-li",
        "Li Wei",
        "taken",
    )
    assert (taken.by, taken.team) == ("frontline-li", "store1-team-leads")
    with pytest.raises(Forbidden, match="already"):
        case.take(LI, minutes(2))
    with pytest.raises(Forbidden, match="frontline-li holds this case"):
        case.take(SUN, minutes(2))
    with pytest.raises(Forbidden, match="only they can hand it over"):
        case.hand_over(Handover("mine now", person="frontline-sun"), SUN, minutes(2))
    (handed,) = case.hand_over(
        Handover("shift ends", person="frontline-sun", person_name="Sun Hui"), LI, minutes(3)
    )
    assert (handed.assignee, handed.reason, handed.note) == ("frontline-sun", "handed_over",
                                                             "shift ends")  # fmt: skip
    # A supervisor may take over a case somebody holds.
    (over,) = case.take(WANG, minutes(4))
    assert over.assignee == "duty-wang"
    (back,) = case.hand_over(Handover("to the queue", team="store1-duty"), WANG, minutes(5))
    assert (back.team, back.assignee) == ("store1-duty", None)
    with pytest.raises(Forbidden, match="queue already"):
        case.hand_over(Handover("again", team="store1-duty"), WANG, minutes(6))


def test_a_handover_names_a_person_or_a_team():
    with pytest.raises(ValueError):
        Handover("both", person="a", team="b")
    with pytest.raises(ValueError):
        Handover("neither")


def test_climbing_a_rung_lets_go_of_the_person_who_held_the_case():
    case, _ = opened()
    case.take(LI, minutes(1))
    later = case.assign_along(STAFF, case.tick(POLICY, minutes(16)))
    assert assigned(later) == [("supervisor", "store1-duty", "escalated")]
    assert case.assignee is None


def test_forward_to_another_department_with_the_answer_time():
    case, _ = opened(mode=Mode.REMOTE, site=None)
    case.hand_over(Handover("for the department", team="dept-appliances"), LI, minutes(1))
    answer_by = minutes(24 * 60)
    forwarded, reassigned = case.forward("dept-furniture", "a sofa, not an appliance",
                                         answer_by, LI, minutes(2))  # fmt: skip
    assert isinstance(forwarded, CaseForwarded)
    assert (forwarded.from_team, forwarded.to_team, forwarded.answer_by) == (
        "dept-appliances", "dept-furniture", answer_by,
    )  # fmt: skip
    assert (forwarded.by, forwarded.by_name) == ("frontline-li", "Li Wei")
    assert (reassigned.team, reassigned.reason, reassigned.assignee) == (
        "dept-furniture", "forwarded", None,
    )  # fmt: skip
    with pytest.raises(Forbidden, match="already"):
        case.forward("dept-furniture", "again", None, LI, minutes(3))
    with pytest.raises(Forbidden, match="past"):
        case.forward("dept-appliances", "back", minutes(1), LI, minutes(3))


def test_closed_or_waiting_cases_cannot_be_taken():
    case, _ = Case.receive(
        POLICY,
        uuid.uuid4(),
        mode=Mode.REMOTE,
        severity=Severity.GENERAL,
        channel=Channel.HOTLINE,
        category="x",
        customer=ContactCard(tier="C"),
        received_at=T0,
        information_complete=False,
    )
    with pytest.raises(Forbidden, match="awaiting_information"):
        case.take(LI, minutes(1))
    case, _ = opened()
    case.acknowledge(POLICY, LI.id, minutes(1))
    case.resolve(POLICY, LI.id, minutes(2), "fixed", None)
    with pytest.raises(Forbidden, match="resolved"):
        case.take(LI, minutes(3))
    with pytest.raises(Forbidden, match="resolved"):
        case.forward("dept-furniture", "x", None, LI, minutes(3))
