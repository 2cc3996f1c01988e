"""A hand-computed example shared by the satisfaction tests: four complaints through intake,
escalation and follow-up to surveys, and the report they must produce.

A web/billing/general/C   opened frontline, resolved after 1 h, clocks met;
                            answered 6 (speed, attitude)
B hotline/billing/major/VIP  acknowledge clock breached, escalated to supervisor, resolved,
                            reopened (round 2), resolved again 10 000 s after receipt;
                            answered 2 (speed, solution)
C web/delivery/general/C  opened, never resolved; no survey
D web/delivery/general/B  resolved after 600 s, clocks met; survey requested, never answered

Report for 2026-11-02..2026-11-03 (hand-computed):
  complaints 4, reopened 1 (B) -> reopen rate 1/4
  resolved 3 (A, B, D), timely 2 (A, D) -> 2/3 against 100 %: missed
  time to resolve 3600, 10000, 600 -> mean 4733.33 s, p90 (nearest rank 3 of 3) 10000 s
  surveys requested 3 (A, B, D), answered 2 -> response rate 2/3
  answers 2: very satisfied 1, dissatisfied 1 -> satisfaction 1/2, dissatisfaction 1/2
  by SLA: met 1 answer (6) -> 100 %; missed 1 answer (2) -> 0 %
  factors low: solution 1, speed 1; high: attitude 1, speed 1
  resolution cycles: A and D in their first, B in its second -> first-contact 2/3
  pyramid 4 x 24 = 96; retention 2 x .82 + 1 x .54 + 1 x .19 = 2.37 -> 2.37 / 4 = .5925
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.events.common import Channel, ContactCard, Mode, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import ComplaintReopened, SurveyReason, SurveyRequested
from shared.events.handling import (
    CaseEscalated,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseSlaBreached,
    EscalationReason,
)
from shared.events.intake import ComplaintReceived, Customer
from shared.events.satisfaction import SurveyRecorded

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)
A, B, C, D = (uuid.UUID(int=i) for i in (0xA, 0xB, 0xC, 0xD))
# Follow-up names each survey; the notification service alone knows its token.
SURVEY_IDS = {cid: uuid.uuid5(cid, "survey") for cid in (A, B, D)}
CYCLES = {A: 1, B: 2, D: 1}  # B was reopened once: its survey measures its second cycle


def _complaint(cid: uuid.UUID, channel: Channel, category: str, severity: Severity, tier: Tier):
    return [
        ("intake", ComplaintReceived(
            complaint_id=cid, received_at=DAY, channel=channel, mode=Mode.REMOTE,
            category=category, severity=severity, severity_reasons=[],
            customer=Customer(id=f"cust-{cid.int}", name="N", phone="1", tier=tier),
            description="d", information_complete=True, missing_fields=[],
            acknowledge_by=DAY + timedelta(hours=2),
        )),
        ("handling", CaseOpened(
            complaint_id=cid, opened_at=DAY, level="frontline", severity=severity, tier=tier,
            mode=Mode.REMOTE, channel=channel, category=category, policy_version="1",
            deadlines={"acknowledge": DAY + timedelta(hours=2)},
        )),
    ]  # fmt: skip


def _resolved(cid, channel, category, severity, tier, after: float, level: str, met: bool, rnd=1):
    return ("handling", CaseResolved(
        complaint_id=cid, at=DAY + timedelta(seconds=after), by="agent", round=rnd,
        resolution="fixed", severity=severity, channel=channel, category=category,
        customer=ContactCard(tier=tier), tier=tier, level=level, highest_level=level,
        clocks_met={"acknowledge": met, "plan": True},
    ))  # fmt: skip


def _survey(cid: uuid.UUID, tier: Tier):
    return ("followup", SurveyRequested(
        survey_id=SURVEY_IDS[cid], complaint_id=cid, callback_id=uuid.uuid5(cid, "cb"),
        cycle=CYCLES[cid], customer=ContactCard(id=f"cust-{cid.int}", tier=tier),
        requested_at=NEXT_DAY, reason=SurveyReason.SATISFIED,
    ))  # fmt: skip


def answer(cid: uuid.UUID, level: SatisfactionLevel, factors: list[str]) -> SurveyRecorded:
    return SurveyRecorded(
        complaint_id=cid, survey_id=SURVEY_IDS[cid], cycle=CYCLES[cid], level=level,
        score=level.score,
        factors=factors, comment="ok", taken_by="customer",
        recorded_at=NEXT_DAY + timedelta(hours=1),
    )  # fmt: skip


def lifecycle() -> list[tuple[str, object]]:
    """(topic attribute, event data) of everything upstream tells about A..D."""
    w, h, gen, maj = Channel.WEB, Channel.HOTLINE, Severity.GENERAL, Severity.MAJOR
    events: list[tuple[str, object]] = []
    events += _complaint(A, w, "billing", gen, Tier.C)
    events += [_resolved(A, w, "billing", gen, Tier.C, 3600, "frontline", True), _survey(A, Tier.C)]
    events += _complaint(B, h, "billing", maj, Tier.VIP)
    events += [
        ("handling", CaseSlaBreached(complaint_id=B, at=DAY + timedelta(hours=2),
                                     clock="acknowledge", deadline=DAY + timedelta(hours=2),
                                     level="frontline")),
        ("handling", CaseEscalated(complaint_id=B, at=DAY + timedelta(hours=2),
                                   from_level="frontline", to_level="supervisor",
                                   reason=EscalationReason.DEADLINE, clock="acknowledge")),
        _resolved(B, h, "billing", maj, Tier.VIP, 7200, "supervisor", False),
        ("followup", ComplaintReopened(complaint_id=B, callback_id=uuid.uuid5(B, "cb0"),
                                       at=DAY + timedelta(seconds=8000), by="agent")),
        ("handling", CaseReopened(complaint_id=B, at=DAY + timedelta(seconds=8000), round=2,
                                  reason="unhappy", deadlines={})),
        _resolved(B, h, "billing", maj, Tier.VIP, 10000, "supervisor", False, rnd=2),
        _survey(B, Tier.VIP),
    ]  # fmt: skip
    events += _complaint(C, w, "delivery", gen, Tier.C)
    events += _complaint(D, w, "delivery", gen, Tier.B)
    events += [_resolved(D, w, "delivery", gen, Tier.B, 600, "frontline", True), _survey(D, Tier.B)]
    return events


def answers() -> list[SurveyRecorded]:
    return [
        answer(A, SatisfactionLevel.VERY_SATISFIED, ["speed", "attitude"]),
        answer(B, SatisfactionLevel.DISSATISFIED, ["speed", "solution"]),
    ]


def envelopes() -> list[tuple[str, Envelope]]:
    out = []
    for topic, data in [*lifecycle(), *(("satisfaction", a) for a in answers())]:
        subject = str(data.complaint_id)  # type: ignore[attr-defined]
        out.append((topic, new_event("/test", subject, data)))  # type: ignore[arg-type]
    return out


PERIOD = (DAY.date(), NEXT_DAY.date())

EXPECTED_OVERALL = {
    "complaints": 4,
    "reopened": 1,
    "reopen_rate": 0.25,
    "resolved": 3,
    "resolved_timely": 2,
    "timely_handling_rate": 2 / 3,
    "first_contact_resolution_rate": 2 / 3,
    "resolved_by_cycle": {"1": 2, "2": 1, "3": 0, "4+": 0},
    "mean_time_to_resolve_seconds": 14200 / 3,
    "p90_time_to_resolve_seconds": 10000.0,
    "surveys_requested": 3,
    "surveys_answered": 2,
    "response_rate": 2 / 3,
    "answers": 2,
    "answers_by_level": {
        "very_satisfied": 1, "satisfied": 0, "neutral": 0, "resigned": 0,
        "dissatisfied": 1, "very_dissatisfied": 0,
    },
    "satisfaction_rate": 0.5,
    "dissatisfaction_rate": 0.5,
    "sla_met": (1, 1.0),
    "sla_missed": (1, 0.0),
    "factors_low": [("solution", 1), ("speed", 1)],
    "factors_high": [("attitude", 1), ("speed", 1)],
    "silent": 96,
    "expected_returning": 2.37,
    "expected_retention_rate": 0.5925,
}  # fmt: skip


def check_overall(s: dict, expected: dict = EXPECTED_OVERALL) -> None:
    """Compare a summary (as the API or domain.report gives it) with hand-computed figures."""
    import math

    def value(name: str) -> float | None:
        return s[name]["value"] if isinstance(s[name], dict) else s[name]

    for name in (
        "complaints",
        "reopened",
        "resolved",
        "resolved_timely",
        "surveys_requested",
        "surveys_answered",
        "answers",
        "answers_by_level",
    ):
        assert s[name] == expected[name], name
    for name in (
        "reopen_rate",
        "timely_handling_rate",
        "mean_time_to_resolve_seconds",
        "p90_time_to_resolve_seconds",
        "response_rate",
        "satisfaction_rate",
        "dissatisfaction_rate",
        "first_contact_resolution_rate",
    ):
        got, want = value(name), expected[name]
        assert (got is None and want is None) or math.isclose(got, want), (name, got, want)
    by_cycle = {k: v["resolved"] for k, v in s["resolved_by_cycle"].items()}
    assert by_cycle == expected["resolved_by_cycle"]
    sla = s["satisfaction_by_sla"]
    for band in ("met", "missed"):
        answers_, rate = expected[f"sla_{band}"]
        assert sla[band]["answers"] == answers_
        got = sla[band]["satisfaction_rate"]["value"]
        assert (got is None and rate is None) or math.isclose(got, rate), band
    assert [(f["factor"], f["count"]) for f in s["factors"]["low"]] == expected["factors_low"]
    assert [(f["factor"], f["count"]) for f in s["factors"]["high"]] == expected["factors_high"]
    assert s["complaint_pyramid"]["silent_dissatisfied_estimate"] == expected["silent"]
    r = s["retention"]
    assert math.isclose(r["expected_returning_customers"], expected["expected_returning"])
    rate = r["expected_retention_rate"]["value"]
    want = expected["expected_retention_rate"]
    assert (rate is None and want is None) or math.isclose(rate, want)
