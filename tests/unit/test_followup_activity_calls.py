"""Follow-up's rules for calls after a purchase or an exchange, a lapsed customer's place in
the queue, and what a closed call publishes for the reports. Pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.followup.activity_calls import KIND_OF, listed, reason_of
from services.followup.callbacks import _events, figures_of, queue_rank
from services.followup.domain.outcomes import Outcome, State, decide
from services.followup.domain.policy import (
    FollowupPolicy,
    after_activity_due,
    load_policy,
)
from services.followup.domain.tiers import queue_tier
from services.followup.erasure import erased_details
from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.common import Tier
from shared.events.followup import (
    CallbackKind,
    CallOutcome,
    FollowupCompleted,
    FollowupUnreachable,
)
from shared.events.versions import (
    CustomerActivityV1,
    FollowupCompletedV1,
    FollowupScheduledV1,
    read,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def policy(**after_activity) -> FollowupPolicy:
    return FollowupPolicy.model_validate(
        {
            "version": "t",
            "callback": {"after_resolution": "3d", "remedial_after": "1d", "overdue_after": "1d"},
            "attempts": {"max": 2, "spacing": ["4h"]},
            "after_activity": {"purchase": "3d", "exchange": "5d"} | after_activity,
        }
    )


def test_the_bundled_policy_calls_three_days_after_a_sale():
    rules = load_policy().after_activity
    assert rules.purchase == timedelta(days=3)
    assert rules.exchange is not None


def test_a_purchase_is_called_about_its_days_later_an_exchange_after_its_own():
    p = policy()
    at = NOW - timedelta(hours=2)
    assert after_activity_due(ActivityKind.PURCHASE, at, NOW, p) == at + timedelta(days=3)
    assert after_activity_due(ActivityKind.EXCHANGE, at, NOW, p) == at + timedelta(days=5)


def test_a_visit_is_never_called_about_nor_a_kind_the_policy_switches_off():
    assert after_activity_due(ActivityKind.VISIT, NOW, NOW, policy()) is None
    assert after_activity_due(ActivityKind.EXCHANGE, NOW, NOW, policy(exchange=None)) is None


def test_late_activity_is_called_at_once_and_old_activity_not_at_all():
    p = policy(call_within="7d")
    four_days_ago = NOW - timedelta(days=4)
    assert after_activity_due(ActivityKind.PURCHASE, four_days_ago, NOW, p) == NOW
    assert after_activity_due(ActivityKind.PURCHASE, NOW - timedelta(days=8), NOW, p) is None


def test_a_bad_after_activity_duration_names_the_problem():
    with pytest.raises(ValidationError, match="purchase"):
        policy(purchase="3 days")
    with pytest.raises(ValidationError, match="after_activity"):
        policy(weekly="1d")


def test_activity_kinds_map_to_their_own_call_back_kinds():
    assert KIND_OF == {
        ActivityKind.PURCHASE: CallbackKind.AFTER_SALE,
        ActivityKind.EXCHANGE: CallbackKind.AFTER_EXCHANGE,
    }


def activity(kind=ActivityKind.PURCHASE, reference: str | None = "SO-42") -> CustomerActivity:
    return CustomerActivity(
        customer=ActivityCustomer(id="cust-1", name="王芳", tier=Tier.B),
        kind=kind,
        at=NOW,
        amount=86.5,
        location="store-42",
        reference=reference,
    )


def test_the_call_lists_its_purchase_and_says_why():
    a = activity()
    assert listed(a, "SO-42") == {
        "kind": "purchase",
        "at": NOW.isoformat(),
        "reference": "SO-42",
        "location": "store-42",
        "amount": 86.5,
    }
    assert reason_of(a, NOW + timedelta(days=3)) == (
        "purchase (SO-42) at store-42 on 2026-11-23: called 3.0 days after"
    )


@pytest.mark.parametrize("kind", [CallbackKind.AFTER_SALE, CallbackKind.AFTER_EXCHANGE])
def test_an_unhappy_customer_after_a_sale_ends_the_call_without_reopening(kind):
    # Even with a complaint id somehow on it: only calls about a complaint reopen it.
    for has_complaint in (False, True):
        unhappy = decide(kind, has_complaint, True, False, 0, NOW, policy())
        assert (unhappy.state, unhappy.outcome, unhappy.reopen, unhappy.survey) == (
            State.COMPLETED, Outcome.NOT_SATISFIED, False, None
        )  # fmt: skip
        happy = decide(kind, has_complaint, True, True, 0, NOW, policy())
        assert (happy.state, happy.survey) == (State.COMPLETED, None)


def test_an_unanswered_call_after_a_sale_retries_then_ends_unreachable_without_survey():
    first = decide(CallbackKind.AFTER_SALE, False, False, None, 0, NOW, policy())
    assert (first.state, first.next_due) == (State.SCHEDULED, NOW + timedelta(hours=4))
    last = decide(CallbackKind.AFTER_SALE, False, False, None, 1, NOW, policy())
    assert (last.state, last.outcome, last.survey) == (
        State.UNREACHABLE, Outcome.UNREACHABLE, None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        (Tier.C, Tier.A, Tier.A),  # a lapsed A customer stays A
        (Tier.B, None, Tier.B),
        (Tier.A, Tier.B, Tier.A),  # never lower than now
        (Tier.VIP, Tier.A, Tier.VIP),
        (Tier.D, Tier.C, Tier.C),
    ],
)
def test_the_queue_works_a_call_back_at_the_higher_tier(now, before, expected):
    assert queue_tier(now, before) == expected


def test_a_lapsed_a_customer_sorts_above_a_b_customer():
    lapsed = queue_rank(queue_tier(Tier.C, Tier.A))
    b_customer = queue_rank(queue_tier(Tier.B, None))
    assert lapsed < b_customer


def retention_callback(**changes) -> dict:
    return {
        "id": uuid.uuid4(),
        "complaint_id": None,
        "kind": "retention",
        "customer_id": "cust-1",
        "tier": "C",
        "tier_before": "A",
        "details": {
            "tier_change": {
                "from_tier": "A",
                "to_tier": "C",
                "month": "2026-10",
                "visits": 3,
                "previous_visits": 12,
            }
        },
        "went_overdue_at": None,
        "round": None,
        "max_attempts": 2,
    } | changes


def test_a_retention_outcome_carries_the_figures_the_reports_need():
    callback = retention_callback()
    unhappy = decide(CallbackKind.RETENTION, False, True, False, 0, NOW, policy())
    [event] = _events(callback, unhappy, "agent-li", "moved away", NOW)
    assert isinstance(event, FollowupCompleted)
    assert (event.kind, event.outcome, event.satisfied, event.attempts) == (
        CallbackKind.RETENTION, CallOutcome.NOT_SATISFIED, False, 1
    )  # fmt: skip
    assert (event.customer_id, event.tier, event.tier_before) == ("cust-1", Tier.C, Tier.A)
    assert event.tier_change is not None and event.tier_change.from_tier == Tier.A
    assert event.went_overdue is False


def test_an_unreachable_retention_call_carries_its_kind_and_tier_change():
    callback = retention_callback(went_overdue_at=NOW)
    last = decide(CallbackKind.RETENTION, False, False, None, 1, NOW, policy())
    [event] = _events(callback, last, "agent-li", None, NOW)
    assert isinstance(event, FollowupUnreachable)
    assert (event.kind, event.outcome, event.attempts, event.went_overdue) == (
        CallbackKind.RETENTION, CallOutcome.UNREACHABLE, 2, True
    )  # fmt: skip
    assert event.tier_change is not None and event.tier_change.to_tier == Tier.C


def test_a_call_back_without_a_tier_change_has_none_in_its_figures():
    figures = figures_of(retention_callback(kind="after_sale", tier_before=None, details=None))
    assert figures["tier_change"] is None and figures["tier_before"] is None


def test_version_one_events_are_read_by_the_version_two_readers():
    old = CustomerActivityV1.model_validate(
        {"customer": {"id": "c-1"}, "kind": "purchase", "at": NOW.isoformat()}
    ).model_dump(mode="json")
    assert read(CustomerActivity, old).reference is None
    done = FollowupCompletedV1(
        callback_id=uuid.uuid4(), complaint_id=None, at=NOW, by="x", kind="retention"
    ).model_dump(mode="json")
    assert read(FollowupCompleted, done).outcome is None
    scheduled = FollowupScheduledV1.model_json_schema()
    assert scheduled["$defs"]["CallbackKind"]["enum"] == ["resolution", "remedial", "retention"]


def test_erasure_drops_what_leads_back_to_the_customer_from_the_listed_purchases():
    details = {"activities": [listed(activity(), "SO-42")]}
    assert erased_details(details) == {"activities": [{"kind": "purchase", "at": NOW.isoformat()}]}
    assert erased_details(None) is None
    assert erased_details({"tier_change": {"from_tier": "A"}}) == {
        "tier_change": {"from_tier": "A"}
    }
