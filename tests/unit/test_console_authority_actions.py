"""The console's authority actions: offered by role, and a money field sent as an amount with
its currency (escalation's ``compensation_amount``)."""

from __future__ import annotations

from services.console.domain.actions import BY_NAME, body_of, offered
from services.console.domain.staff import StaffMember


def test_approvals_go_to_team_leads_and_up_refusals_to_supervisors_flags_to_anyone() -> None:
    agent = {a.name for a in offered(StaffMember("frontline-li", "Li Wei", ("agent",), ()))}
    lead = {a.name for a in offered(StaffMember("lead-zhang", "Zhang Min", ("team_lead",), ()))}
    duty = {a.name for a in offered(StaffMember("duty-wang", "Wang Fang", ("supervisor",), ()))}
    assert {"flag-abuse", "request-compensation"} <= agent
    assert not {"approve-plan", "approve-compensation", "refuse-service"} & agent
    assert {"approve-plan", "reject-plan", "approve-compensation"} <= lead
    assert "refuse-service" not in lead
    assert {"refuse-service", "lift-refusal"} <= duty


def test_a_money_field_is_sent_as_an_amount_and_its_currency() -> None:
    form = {"resolution": " refund ", "compensation_amount": " 500.00 ",
            "compensation_amount_currency": "cny", "csrf_token": "x"}  # fmt: skip
    assert body_of(BY_NAME["request-compensation"], form) == {
        "resolution": "refund",
        "compensation_amount": {"amount": "500.00", "currency": "CNY"},
    }
    assert body_of(BY_NAME["resolve"], {"resolution": "done", "compensation_amount": ""}) == {
        "resolution": "done"
    }
