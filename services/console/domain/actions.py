"""The actions on a case a person may be offered: each maps to escalation's
``POST /cases/{id}/<action>``, with the fields its form asks for and the role it needs
(the API checks again; a forbidden action is simply not offered)."""

from __future__ import annotations

from dataclasses import dataclass

from services.console.domain.staff import StaffMember
from services.console.domain.words import N_


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    # text, textarea, select-person, select-team, select-department or select-outcome
    kind: str = "text"
    required: bool = True


@dataclass(frozen=True)
class CaseAction:
    name: str
    label: str
    role: str
    fields: tuple[Field, ...] = ()


REASON = Field("reason", N_("Reason"))
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
    )),
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


def body_of(action: CaseAction, form: dict[str, str]) -> dict[str, str]:
    """The API body from the form: only the action's fields, blanks left out (the API says
    which required one is missing)."""
    out = {}
    for field in action.fields:
        value = (form.get(field.name) or "").strip()
        if value:
            out[field.name] = value
    return out
