"""The customer's "My complaint" page, pure: intake's answer (``GET /my-complaint``) in plain
words. Words are marked for translation here (``N_``) and translated by the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.console.domain.words import N_

# Where the complaint stands, as a sentence for the customer.
STATUS_WORDS = {
    "received": N_("We have received your complaint and will be in touch."),
    "awaiting_information": N_("We need a way to reach you before we can start."),
    "rejected": N_("We recorded your complaint, but it falls outside what we handle here."),
    "open": N_("Your complaint is with our team."),
    "acknowledged": N_("We have been in touch and are looking into it."),
    "investigating": N_("We are finding out what happened."),
    "plan_recorded": N_("We have a plan to put it right."),
    "paused": N_("Handling is paused for the moment."),
    "resolved": N_("We have resolved your complaint."),
    "reopened": N_("We are looking at your complaint again."),
    "suspended": N_("Handling of your complaint is suspended."),
    "closed": N_("Your complaint is closed."),
    "closed_unreachable": N_("Your complaint was closed because we could not reach you."),
}

# What happened so far: one line per step.
STEP_WORDS = {
    "received": N_("Complaint received"),
    "awaiting_information": N_("Complaint recorded; your contact details were missing"),
    "rejected": N_("Complaint recorded; outside what we handle here"),
    "open": N_("Passed to our team"),
    "acknowledged": N_("We contacted you"),
    "investigating": N_("We looked into what happened"),
    "plan_recorded": N_("We decided how to put it right"),
    "paused": N_("Handling paused"),
    "resolved": N_("Resolved"),
    "reopened": N_("Opened again"),
    "suspended": N_("Handling suspended"),
    "closed": N_("Closed"),
    "closed_unreachable": N_("Closed: we could not reach you"),
}

# The promised times, by the clock escalation runs (``ladder`` is internal and not shown).
PROMISE_WORDS = {
    "respond": N_("Someone will be with you by"),
    "acknowledge": N_("We will contact you by"),
    "investigate": N_("We will have looked into it by"),
    "plan": N_("We will tell you how we will put it right by"),
}

# Clocks that are done once the complaint reaches these statuses.
DONE_AFTER = {
    "respond": {"acknowledged", "investigating", "plan_recorded", "resolved", "closed"},
    "acknowledge": {"acknowledged", "investigating", "plan_recorded", "resolved", "closed"},
    "investigate": {"investigating", "plan_recorded", "resolved", "closed"},
    "plan": {"plan_recorded", "resolved", "closed"},
}

FIELD_WORDS = {
    "name": N_("your name"),
    "phone": N_("a phone number"),
    "email": N_("an e-mail address"),
}
CONTACT_FIELDS = ("name", "phone", "email")
FINAL = {"rejected", "closed", "closed_unreachable"}


@dataclass(frozen=True)
class Promise:
    words: str
    at: datetime
    kept: bool  # the step it promised has happened


@dataclass(frozen=True)
class Step:
    words: str
    at: datetime


@dataclass(frozen=True)
class MyComplaintPage:
    reference: str
    status: str
    summary: str
    steps: list[Step]
    promises: list[Promise]
    missing: list[list[str]]  # each requirement: the fields any of which will do
    fields: list[str]  # the inputs the form shows
    closes_at: datetime | None
    expires_at: datetime | None

    @property
    def needs_contact(self) -> bool:
        return self.status == "awaiting_information"


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def page_of(found: dict[str, Any]) -> MyComplaintPage:
    status = str(found["status"])
    reached = {str(h["status"]) for h in found.get("history") or []}
    steps = [
        Step(STEP_WORDS.get(str(h["status"]), str(h["status"])), _moment(h["at"]))  # type: ignore[arg-type]
        for h in found.get("history") or []
    ]
    promises: list[Promise] = []
    deadlines = dict(found.get("deadlines") or {})
    if not deadlines and found.get("acknowledge_by"):
        deadlines["acknowledge"] = found["acknowledge_by"]
    if status not in FINAL:
        for clock, words in PROMISE_WORDS.items():
            at = _moment(deadlines.get(clock))
            if at is not None:
                promises.append(Promise(words, at, bool(DONE_AFTER[clock] & reached)))
    missing = [
        [part.removeprefix("customer.") for part in requirement.split("|")]
        for requirement in found.get("missing_fields") or []
    ]
    wanted = {name for requirement in missing for name in requirement}
    return MyComplaintPage(
        reference=str(found.get("reference") or str(found["complaint_id"])[:8].upper()),
        status=status,
        summary=STATUS_WORDS.get(status, status),
        steps=steps,
        promises=promises,
        missing=missing,
        fields=[f for f in CONTACT_FIELDS if f in wanted],
        closes_at=_moment(found.get("closes_at")),
        expires_at=_moment(found.get("link_expires_at")),
    )


def contact_body(form: dict[str, str]) -> dict[str, str]:
    """What the customer typed into the form, blanks left out."""
    return {f: form[f].strip() for f in CONTACT_FIELDS if (form.get(f) or "").strip()}
