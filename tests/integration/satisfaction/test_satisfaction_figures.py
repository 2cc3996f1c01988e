"""The handling figures from the topics, through the service's own consumer against the real
Kafka and PostgreSQL, then the same figures after the documented rebuild.

R1 web/billing/B        rejected: out of warranty
R2 hotline/quality/C    rejected: a claim for damages
E1 web/billing/A        expects a refund; paused 30 min; resolved with a refund, clocks met;
                        answered very satisfied (speed)
E2 web/delivery/VIP     expects an exchange; received without contact data, completed 1 h
                        later; plan waited 1 h for approval; climbed to customer_relations;
                        resolved with a refund, clocks met; answered dissatisfied (solution,
                        speed)
E3 hotline/billing/C    open, its acknowledge clock already breached
Retention calls: K1 A->B reached and satisfied, K2 B->C unreachable, K3 A->C still open; a
resolution call-back of E1 (scheduled, completed) is not one of them.

Hand-computed: complaints 3, rejected 2 (share 2/5); timely 2 of 2 resolved + 1 open
breached -> 2/3; expectation compared 2, same kind 1 (satisfaction 1.0), other 1 (0.0);
paused 1 complaint 1800 s; approval 1, 3600 s; contact data 1, 3600 s; churn .02 + .40 = .42;
pyramid: 1 of 3 reached management, never complained 3 x .69 / .31; silent 72; complainants
returning 2 x .82 + .19 = 1.83; factors driving away (1 answer): solution 1, speed 1; bringing
back (1 answer): speed 1; by tier VIP first, then A; retention calls 3: 1 reached satisfied,
1 unreachable, 1 open (reached rate 1/2)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.satisfaction import erasure, retention_calls, usecases
from services.satisfaction.app import create_app
from services.satisfaction.rebuild import rebuild
from services.satisfaction.settings import SatisfactionSettings
from shared.events.common import Channel, ContactCard, Mode, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import (
    CallbackKind,
    FollowupCompleted,
    FollowupScheduled,
    FollowupUnreachable,
    TierChange,
)
from shared.events.handling import (
    CaseEscalated,
    CaseOpened,
    CasePaused,
    CaseResolved,
    CaseResumed,
    CaseSlaBreached,
    EscalationReason,
)
from shared.events.intake import (
    ComplaintCompleted,
    ComplaintReceived,
    ComplaintRejected,
    Customer,
    ExpectedOutcome,
    OutcomeKind,
    RejectionReason,
)
from shared.events.satisfaction import SurveyRecorded
from shared.runtime import Runtime
from tests.integration.satisfaction.test_satisfaction_store import AGENT, publish
from tests.support.consuming import run_until_processed

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = {"from": "2026-11-02", "to": "2026-11-03"}
R1, R2, E1, E2, E3 = (uuid.UUID(int=0xF0 + i) for i in range(5))
K1, K2, K3, K_RES = (uuid.UUID(int=0xC0 + i) for i in range(4))


def at(minutes: float) -> datetime:
    return DAY + timedelta(minutes=minutes)


def ev(topic: str, key: uuid.UUID | str, data, time: datetime = DAY) -> tuple[str, Envelope]:
    return topic, new_event("/test", str(key), data, time=time)


def raw(topic: str, key: uuid.UUID, event_type: str, data: dict) -> tuple[str, Envelope]:
    """An event whose model this branch does not have (escalation's plan approval): readers
    are tolerant, by name."""
    return topic, Envelope(source="/test", type=event_type, subject=str(key), data=data)


def received(cid, channel, category, tier, expected, complete=True):
    return ev("intake", cid, ComplaintReceived(
        complaint_id=cid, received_at=DAY, channel=channel, mode=Mode.REMOTE,
        category=category, severity=Severity.GENERAL, severity_reasons=[],
        customer=Customer(id=f"c-{cid.int}", tier=tier), description="d",
        expected_outcome=ExpectedOutcome(kind=expected) if expected else None,
        information_complete=complete, missing_fields=[] if complete else ["phone"],
        acknowledge_by=None,
    ))  # fmt: skip


def opened(cid, channel, category, tier):
    return ev("handling", cid, CaseOpened(
        complaint_id=cid, opened_at=DAY, level="frontline", severity=Severity.GENERAL,
        tier=tier, mode=Mode.REMOTE, channel=channel, category=category, policy_version="1",
        deadlines={},
    ))  # fmt: skip


def resolved(cid, channel, category, tier, minutes, kind, level="frontline"):
    return ev("handling", cid, CaseResolved(
        complaint_id=cid, at=at(minutes), by="agent", round=1, resolution="refunded",
        severity=Severity.GENERAL, channel=channel, category=category,
        customer=ContactCard(tier=tier), tier=tier, level=level, highest_level=level,
        clocks_met={"acknowledge": True, "investigate": True, "plan": True},
        resolution_kind=kind,
    ))  # fmt: skip


def answer(cid, level: SatisfactionLevel, factors: list[str]):
    return ev("satisfaction", cid, SurveyRecorded(
        complaint_id=cid, survey_id=None, cycle=1, level=level, score=level.score,
        factors=factors, taken_by="agent", recorded_at=DAY + timedelta(days=1),
    ))  # fmt: skip


def retention(callback: uuid.UUID, customer: str, from_tier: Tier, to_tier: Tier):
    return ev("followup", customer, FollowupScheduled(
        callback_id=callback, complaint_id=None, kind=CallbackKind.RETENTION,
        customer=ContactCard(id=customer, tier=to_tier), due_at=at(60), reason="tier dropped",
        tier_change=TierChange(from_tier=from_tier, to_tier=to_tier, month="2026-10",
                               visits=3, previous_visits=12),
    ), time=at(1))  # fmt: skip


def events() -> list[tuple[str, Envelope]]:
    w, h = Channel.WEB, Channel.HOTLINE
    return [
        ev("intake", R1, ComplaintRejected(
            complaint_id=R1, received_at=DAY, channel=w, category="billing",
            customer=Customer(id="c-r1", tier=Tier.B), reason=RejectionReason.OUT_OF_WARRANTY,
            explanation="past the warranty", other_channel="repair shop",
        )),
        ev("intake", R2, ComplaintRejected(
            complaint_id=R2, received_at=DAY, channel=h, category="quality",
            customer=Customer(id="c-r2", tier=Tier.C), reason=RejectionReason.DAMAGES_CLAIM,
            explanation="a claim for damages", other_channel="the courts",
        )),
        received(E1, w, "billing", Tier.A, OutcomeKind.REFUND),
        opened(E1, w, "billing", Tier.A),
        ev("handling", E1, CasePaused(complaint_id=E1, at=at(10), by="agent", reason="away")),
        ev("handling", E1, CaseResumed(complaint_id=E1, at=at(40), by="agent",
                                       paused_seconds=1800, total_paused_seconds=1800,
                                       deadlines={})),
        resolved(E1, w, "billing", Tier.A, 120, OutcomeKind.REFUND),
        answer(E1, SatisfactionLevel.VERY_SATISFIED, ["speed"]),
        received(E2, w, "delivery", Tier.VIP, OutcomeKind.EXCHANGE, complete=False),
        ev("intake", E2, ComplaintCompleted(complaint_id=E2, completed_at=at(60),
                                            customer=Customer(id="c-e2", tier=Tier.VIP),
                                            acknowledge_by=at(180))),
        opened(E2, w, "delivery", Tier.VIP),
        raw("handling", E2, "case.plan_submitted", {"complaint_id": str(E2),
            "at": at(120).isoformat(), "by": "agent", "plan": "p", "approver_role": "manager",
            "approve_by": at(240).isoformat(), "level": "frontline"}),
        raw("handling", E2, "case.plan_approved", {"complaint_id": str(E2),
            "at": at(180).isoformat(), "by": "boss", "submitted_by": "agent", "plan": "p",
            "waited_seconds": 3600.0}),
        ev("handling", E2, CaseEscalated(complaint_id=E2, at=at(200), from_level="frontline",
                                         to_level="customer_relations",
                                         reason=EscalationReason.MANUAL)),
        resolved(E2, w, "delivery", Tier.VIP, 300, OutcomeKind.REFUND, "customer_relations"),
        answer(E2, SatisfactionLevel.DISSATISFIED, ["solution", "speed"]),
        received(E3, h, "billing", Tier.C, None),
        opened(E3, h, "billing", Tier.C),
        ev("handling", E3, CaseSlaBreached(complaint_id=E3, at=at(120), clock="acknowledge",
                                           deadline=at(120), level="frontline")),
        retention(K1, "c-k1", Tier.A, Tier.B),
        ev("followup", "c-k1", FollowupCompleted(callback_id=K1, complaint_id=None, at=at(70),
                                                 by="agent", kind=CallbackKind.RETENTION)),
        retention(K2, "c-k2", Tier.B, Tier.C),
        ev("followup", "c-k2", FollowupUnreachable(callback_id=K2, complaint_id=None,
                                                   at=at(90), attempts=3)),
        retention(K3, "c-k3", Tier.A, Tier.C),
        ev("followup", E1, FollowupScheduled(
            callback_id=K_RES, complaint_id=E1, kind=CallbackKind.RESOLUTION,
            customer=ContactCard(id="c-e1", tier=Tier.A), due_at=at(180), reason="resolved",
            round=1)),
        ev("followup", E1, FollowupCompleted(callback_id=K_RES, complaint_id=E1, at=at(200),
                                             by="agent")),
    ]  # fmt: skip


async def consume_until(settings: SatisfactionSettings, processed: int, timeout: float = 60):
    """The service's consumer, with the handlers the app runs, until the inbox holds
    ``processed`` events."""
    runtime = Runtime.build(settings)
    runner = runtime.consumer(
        usecases.source_topics(runtime.topics),
        usecases.handlers(settings.escalation_ladder)
        | erasure.handlers(runtime.topics)
        | retention_calls.handlers(),
        hooks=usecases.LockOrder(),
    )
    await run_until_processed(runtime, runner, processed, timeout)


async def reports(settings: SatisfactionSettings) -> tuple[dict, dict, str]:
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            overall = await client.get("/reports/summary", params=PERIOD, headers=AGENT)
            assert overall.status_code == 200, overall.text
            tiers = await client.get(
                "/reports/summary", params=PERIOD | {"group_by": "tier"}, headers=AGENT
            )
            view = await client.get("/dashboard/view", params=PERIOD, headers=SUPERVISOR)
            assert view.status_code == 200, view.text
            return overall.json(), tiers.json(), view.text
    finally:
        await app.state.runtime.engine.dispose()


SUPERVISOR = {"Authorization": "Bearer boss-token"}


async def test_handling_figures_from_the_topics_and_after_a_rebuild(
    settings: SatisfactionSettings, own_topics
) -> None:
    settings = settings.model_copy(
        update={"ops_tokens": settings.ops_tokens.get_secret_value() + ",duty-wang:boss-token"}
    )
    published = events()
    await publish(settings.kafka_bootstrap_servers, own_topics, published)
    await consume_until(settings, len(published))
    live, tiers, view = await reports(settings)
    o = live["overall"]
    assert o["complaints"] == 3
    assert o["rejections"] == {
        "rejected": 2, "valid": 3, "rejected_share": 2 / 5,
        "by_reason": {"out_of_warranty": 1, "not_covered": 0, "in_litigation": 0,
                      "damages_claim": 1},
    }  # fmt: skip
    assert (o["resolved"], o["resolved_timely"], o["unresolved_breached"]) == (2, 2, 1)
    assert math.isclose(o["timely_handling_rate"]["value"], 2 / 3)
    e = o["expectation"]
    assert (e["resolved_compared"], e["same_kind"], e["other_kind"]) == (2, 1, 1)
    assert e["satisfaction"]["same_kind"]["satisfaction_rate"]["value"] == 1.0
    assert e["satisfaction"]["other_kind"]["satisfaction_rate"]["value"] == 0.0
    w = o["waits"]
    assert (w["paused"]["complaints"], w["paused"]["total_seconds"]) == (1, 1800)
    assert (w["approval"]["complaints"], w["approval"]["total_seconds"]) == (1, 3600)
    assert (w["contact_data"]["complaints"], w["contact_data"]["total_seconds"]) == (1, 3600)
    assert w["contact_data"]["waiting_now"] == 0 and w["paused"]["paused_now"] == 0
    p = o["projection"]
    assert math.isclose(p["churn_by_level"]["expected_lost"], 0.42)
    pyramid = p["complaint_pyramid"]
    assert (pyramid["reached_management"], pyramid["frontline_only"]) == (1, 2)
    assert math.isclose(pyramid["estimated_never_complained"], 3 * 0.69 / 0.31)
    assert p["silent_customers"]["estimated_silent_customers"] == 72
    assert math.isclose(p["return_rates"]["complainants_expected_returning"], 1.83)
    assert all("DOMAIN.md" in part["source"] for part in p.values())
    f = o["factor_analysis"]
    assert [(x["factor"], x["share_of_answers"]) for x in f["drive_away"]["factors"]] == [
        ("solution", 1.0), ("speed", 1.0),
    ]  # fmt: skip
    assert [(x["factor"], x["answers"]) for x in f["bring_back"]["factors"]] == [("speed", 1)]
    assert [t["tier"] for t in f["by_tier"]] == ["VIP", "A"]
    assert f["by_tier"][0]["drive_away"]["answers"] == 1
    calls = o["retention_calls"]
    assert calls["scheduled"] == 3
    assert calls["outcomes"] == {"reached_satisfied": 1, "reached_unsatisfied": 0,
                                 "unreachable": 1, "cancelled": 0, "open": 1}  # fmt: skip
    assert calls["reached_rate"] == 0.5
    assert [(d["from_tier"], d["to_tier"], d["scheduled"]) for d in calls["by_drop"]] == [
        ("A", "B", 1), ("A", "C", 1), ("B", "C", 1),
    ]  # fmt: skip
    # Groups by tier, the most valuable first.
    assert [g["value"] for g in tiers["groups"]] == ["VIP", "A", "B", "C"]
    for chart in ("factor-bands", "churn", "returns", "pyramid", "retention-calls",
                  "rejections", "expectation", "waits"):  # fmt: skip
        assert f'data-chart="{chart}"' in view, chart
    assert "seed 003" in view and "seed 000" in view

    applied = await rebuild(settings)
    assert applied == len(published)
    again, tiers_again, _ = await reports(settings)
    assert again == live and tiers_again == tiers
