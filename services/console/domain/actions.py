"""The actions on a case a person may be offered: each maps to escalation's
``POST /cases/{id}/<action>``, with the fields its form asks for and the role it needs
(the API checks again; a forbidden action is simply not offered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.console.domain.staff import StaffMember
from services.console.domain.words import N_


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    # text, textarea, money (an amount and its currency), select-person, select-team,
    # select-department or select-outcome
    kind: str = "text"
    required: bool = True


@dataclass(frozen=True)
class CaseAction:
    name: str
    label: str
    role: str
    fields: tuple[Field, ...] = ()


REASON = Field("reason", N_("Reason"))
AMOUNT = Field("compensation_amount", N_("Compensation amount"), "money", required=False)
ACTIONS: tuple[CaseAction, ...] = (
    CaseAction("take", N_("Take the case"), "agent"),
    CaseAction("acknowledge", N_("Acknowledge"), "agent"),
    CaseAction("investigate", N_("Record findings"), "agent", (
        Field("findings", N_("Findings"), "textarea"),
    )),
    CaseAction("plan", N_("Record and tell the plan"), "agent", (
        Field("plan", N_("Plan"), "textarea"),
    )),
    CaseAction("resolve", N_("Resolve"), "agent", (
        Field("resolution", N_("Resolution"), "textarea"),
        Field("compensation", N_("Compensation"), required=False),
        AMOUNT,
    )),
    # Above one's limit (the escalation policy): someone whose limit covers it approves.
    CaseAction("request-compensation", N_("Ask approval for the compensation"), "agent", (
        Field("resolution", N_("Resolution"), "textarea"),
        Field("compensation", N_("Compensation"), required=False),
        Field("compensation_amount", N_("Compensation amount"), "money"),
    )),
    CaseAction("approve-compensation", N_("Approve the compensation"), "team_lead"),
    CaseAction("reject-compensation", N_("Reject the compensation"), "team_lead", (REASON,)),
    # Plans the policy wants approved (major ones: a manager); the service checks the role.
    CaseAction("approve-plan", N_("Approve the plan"), "team_lead"),
    CaseAction("reject-plan", N_("Reject the plan"), "team_lead", (REASON,)),
    CaseAction("pause", N_("Pause the clocks"), "agent", (REASON,)),
    CaseAction("resume", N_("Resume the clocks"), "agent", (REASON,)),
    CaseAction("escalate", N_("Escalate"), "agent", (REASON,)),
    CaseAction("handover", N_("Hand over"), "agent", (
        Field("to_person", N_("To a colleague"), "select-person", required=False),
        Field("to_team", N_("Or back to a team's queue"), "select-team", required=False),
        REASON,
    )),
    CaseAction("forward", N_("Forward to a department"), "agent", (
        Field("to_team", N_("Department"), "select-department"),
        REASON,
    )),
    CaseAction("flag-abuse", N_("Flag abuse"), "agent", (
        Field("note", N_("What happened"), "textarea"),
    )),
    CaseAction("refuse-service", N_("Refuse service"), "supervisor", (REASON,)),
    CaseAction("lift-refusal", N_("Lift the refusal"), "supervisor", (REASON,)),
    CaseAction("suspend", N_("Suspend"), "supervisor", (
        Field("outcome", N_("Outcome"), "select-outcome"),
        Field("note", N_("Note"), required=False),
    )),
    CaseAction("end", N_("End"), "supervisor", (
        Field("outcome", N_("Outcome"), "select-outcome"),
        Field("note", N_("Note"), required=False),
    )),
)  # fmt: skip
BY_NAME = {a.name: a for a in ACTIONS}


def offered(person: StaffMember) -> list[CaseAction]:
    return [a for a in ACTIONS if person.at_least(a.role)]


def body_of(action: CaseAction, form: dict[str, str]) -> dict[str, Any]:
    """The API body from the form: only the action's fields, blanks left out (the API says
    which required one is missing). A money field is the amount and its currency."""
    out: dict[str, Any] = {}
    for field in action.fields:
        value = (form.get(field.name) or "").strip()
        if value and field.kind == "money":
            currency = (form.get(f"{field.name}_currency") or "").strip().upper() or "CNY"
            out[field.name] = {"amount": value, "currency": currency}
        elif value:
            out[field.name] = value
    return out
