"""The intake rules of DOMAIN.md: severity, validity, contact completeness, acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.intake.domain.submission import ComplaintSubmission, CustomerIn
from shared.events.common import Mode, Severity, Tier
from shared.events.intake import OutcomeKind, RejectionReason


@dataclass(frozen=True)
class IntakePolicy:
    major_categories: frozenset[str] = frozenset({"safety"})
    major_keywords: tuple[str, ...] = ()
    required_contact: tuple[str, ...] = ("name", "phone|email")
    ack_minutes_remote: float = 120
    ack_minutes_on_site: float = 15
    ack_tier_factors: dict[str, float] = field(default_factory=lambda: {"VIP": 0.5, "A": 0.5})
    ack_major_factor: float = 0.5


def classify(submission: ComplaintSubmission, policy: IntakePolicy) -> tuple[Severity, list[str]]:
    """Severity and the reasons for it. A severity given by the receiver stands."""
    if submission.severity is not None:
        return submission.severity, ["given"]
    reasons = [f"flag:{name}" for name, set_ in submission.flags if set_]
    if submission.category in policy.major_categories:
        reasons.append(f"category:{submission.category}")
    text = submission.description.casefold()
    reasons += [f"keyword:{kw}" for kw in policy.major_keywords if kw.casefold() in text]
    return (Severity.MAJOR if reasons else Severity.GENERAL), reasons


def invalidity(submission: ComplaintSubmission, received_at: datetime) -> RejectionReason | None:
    """Why the complaint is outside the company's commitments, or None when it is valid."""
    if submission.in_litigation:
        return RejectionReason.IN_LITIGATION
    outcome = submission.expected_outcome
    if outcome is not None and outcome.kind == OutcomeKind.DAMAGES:
        return RejectionReason.DAMAGES_CLAIM
    if not submission.covered:
        return RejectionReason.NOT_COVERED
    subject = submission.subject
    warranty_until = subject.warranty_until if subject is not None else None
    if warranty_until is not None and warranty_until < received_at.date():
        return RejectionReason.OUT_OF_WARRANTY
    return None


def missing_contact(customer: CustomerIn, policy: IntakePolicy) -> list[str]:
    """The contact fields still needed, as ``customer.x`` (or ``customer.x|customer.y``)."""
    missing = []
    for requirement in policy.required_contact:
        options = requirement.split("|")
        if not any(getattr(customer, option, None) for option in options):
            missing.append("|".join(f"customer.{option}" for option in options))
    return missing


def acknowledge_by(
    received_at: datetime, mode: Mode, tier: Tier, severity: Severity, policy: IntakePolicy
) -> datetime:
    minutes = policy.ack_minutes_on_site if mode == Mode.ON_SITE else policy.ack_minutes_remote
    minutes *= policy.ack_tier_factors.get(tier.value, 1.0)
    if severity == Severity.MAJOR:
        minutes *= policy.ack_major_factor
    return received_at + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Assessment:
    severity: Severity
    severity_reasons: list[str]
    rejection: RejectionReason | None
    missing_fields: list[str]
    acknowledge_by: datetime | None

    @property
    def status(self) -> str:
        if self.rejection is not None:
            return "rejected"
        return "awaiting_information" if self.missing_fields else "received"


def assess(
    submission: ComplaintSubmission, mode: Mode, received_at: datetime, policy: IntakePolicy
) -> Assessment:
    severity, reasons = classify(submission, policy)
    rejection = invalidity(submission, received_at)
    missing = missing_contact(submission.customer, policy)
    # The acknowledgement clock starts once the contact data is complete (DOMAIN.md).
    due = None
    if rejection is None and not missing:
        due = acknowledge_by(received_at, mode, submission.customer.tier, severity, policy)
    return Assessment(severity, reasons, rejection, missing, due)
