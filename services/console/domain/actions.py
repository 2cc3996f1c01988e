"""The actions on a case a person may be offered: each maps to escalation's
``POST /cases/{id}/<action>``, with the fields its form asks for and the role it needs
(the API checks again; a forbidden action is simply not offered)."""

from __future__ import annotations

from dataclasses import dataclass

from services.console.domain.staff import StaffMember


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


REASON = Field("reason", "Reason")
ACTIONS: tuple[CaseAction, ...] = (  # one action a line
    CaseAction("take", "Take the case", "agent"),
    CaseAction("acknowledge", "Acknowledge", "agent"),
    CaseAction("investigate", "Record findings", "agent", (Field("findings", "Findings", "textarea"),)),  # noqa: E501
    CaseAction("plan", "Record and tell the plan", "agent", (Field("plan", "Plan", "textarea"),)),
    CaseAction("resolve", "Resolve", "agent", (
        Field("resolution", "Resolution", "textarea"),
        Field("compensation", "Compensation", required=False),
    )),
    CaseAction("pause", "Pause the clocks", "agent", (REASON,)),
    CaseAction("resume", "Resume the clocks", "agent", (REASON,)),
    CaseAction("escalate", "Escalate", "agent", (REASON,)),
    CaseAction("handover", "Hand over", "agent", (
        Field("to_person", "To a colleague", "select-person", required=False),
        Field("to_team", "Or back to a team's queue", "select-team", required=False),
        REASON,
    )),
    CaseAction("forward", "Forward to a department", "agent", (
        Field("to_team", "Department", "select-department"),
        REASON,
    )),
    CaseAction("suspend", "Suspend", "supervisor", (
        Field("outcome", "Outcome", "select-outcome"),
        Field("note", "Note", required=False),
    )),
    CaseAction("end", "End", "supervisor", (
        Field("outcome", "Outcome", "select-outcome"),
        Field("note", "Note", required=False),
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
