"""Follow-up's pure rules: due times, retries, outcomes, the policy file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.followup.domain.outcomes import Outcome, State, decide
from services.followup.domain.policy import (
    FollowupPolicy,
    load_policy,
    next_attempt_at,
    overdue_at,
    remedial_due,
    reschedule_problem,
    resolution_due,
    retention_due,
)
from services.followup.settings import FollowupSettings
from shared.durations import parse_duration
from shared.events.common import Severity, Tier
from shared.events.followup import CallbackKind, SurveyReason

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def policy(**changes) -> FollowupPolicy:
    raw = {
        "version": "t",
        "callback": {
            "after_resolution": "3d",
            "tier_factors": {"VIP": 0.25, "A": 0.5},
            "major_factor": 0.5,
            "remedial_after": "1d",
            "overdue_after": "1d",
        },
        "attempts": {"max": 3, "spacing": ["4h", "1d"]},
    }
    for section, values in changes.items():
        raw[section] = raw.get(section, {}) | values
    return FollowupPolicy.model_validate(raw)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("90m", 5400), ("4h", 14400), ("3d", 259200), ("1.5h", 5400), (2, 2)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "3 days", "-1h", "h", "1w"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_bundled_policy_loads_and_follows_the_domain():
    bundled = load_policy()
    assert bundled.callback.after_resolution == timedelta(days=3)  # "called 3 days after"
    assert bundled.retention.tiers.A == 11 and bundled.retention.tiers.B == 6
    assert FollowupSettings().policy_file.name == "policy.yaml"


@pytest.mark.parametrize(
    ("tier", "severity", "hours"),
    [
        (Tier.C, Severity.GENERAL, 72),
        (Tier.A, Severity.GENERAL, 36),
        (Tier.VIP, Severity.GENERAL, 18),
        (Tier.C, Severity.MAJOR, 36),
        (Tier.VIP, Severity.MAJOR, 9),  # factors multiply
    ],
)
def test_resolution_due_is_sooner_for_vip_and_major(tier, severity, hours):
    assert resolution_due(NOW, tier, severity, policy()) == NOW + timedelta(hours=hours)


def test_remedial_is_sooner_than_a_normal_call_and_the_policy_insists():
    p = policy()
    assert remedial_due(NOW, Tier.C, p) < resolution_due(NOW, Tier.C, Severity.GENERAL, p)
    assert remedial_due(NOW, Tier.A, p) == NOW + timedelta(hours=12)
    with pytest.raises(ValidationError, match="remedial_after"):
        policy(callback={"remedial_after": "4d"})


def test_overdue_and_retention_times():
    p = policy()
    assert overdue_at(NOW, p) == NOW + timedelta(days=1)
    assert retention_due(NOW, Tier.A, p) == NOW + timedelta(hours=12)


def test_retry_spacing_then_give_up():
    p = policy()
    assert next_attempt_at(NOW, 1, p) == NOW + timedelta(hours=4)
    assert next_attempt_at(NOW, 2, p) == NOW + timedelta(days=1)
    assert next_attempt_at(NOW, 3, p) is None


def test_last_spacing_repeats():
    p = policy(attempts={"max": 5, "spacing": ["1h"]})
    assert [next_attempt_at(NOW, n, p) for n in range(1, 6)] == [NOW + timedelta(hours=1)] * 4 + [
        None
    ]


def test_policy_rejects_bad_values_naming_them():
    with pytest.raises(ValidationError, match="max"):
        policy(attempts={"max": 0})
    with pytest.raises(ValidationError, match="tier"):
        policy(retention={"tiers": {"A": 5, "B": 6, "C": 1}})
    with pytest.raises(ValidationError, match="time zone"):
        policy(retention={"timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError, match="extra"):
        policy(callback={"after_resolutoin": "1d"})


def test_policy_file_from_disk(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: short\ncallback: {after_resolution: 2s, remedial_after: 1s, overdue_after: 3s}\n"
        "attempts: {max: 2, spacing: 1s}\nretention: {tiers: {A: 3, B: 2, C: 1}}\n"
    )
    loaded = load_policy(path)
    assert loaded.attempts.spacing == (timedelta(seconds=1),)
    assert loaded.retention.tiers.A == 3


def test_reschedule_limits():
    p = policy()
    assert reschedule_problem(NOW, NOW + timedelta(hours=2), p) is None
    assert "future" in reschedule_problem(NOW, NOW - timedelta(minutes=1), p)
    assert "time zone" in reschedule_problem(NOW, datetime(2026, 12, 1, 9), p)
    assert "within" in reschedule_problem(NOW, NOW + timedelta(days=90), p)


def test_satisfied_completes_and_asks_for_the_survey():
    d = decide(CallbackKind.RESOLUTION, True, True, True, 0, NOW, policy())
    assert (d.state, d.outcome, d.survey, d.reopen) == (
        State.COMPLETED, Outcome.SATISFIED, SurveyReason.SATISFIED, False
    )  # fmt: skip


def test_unhappy_customer_reopens_the_complaint():
    d = decide(CallbackKind.RESOLUTION, True, True, False, 1, NOW, policy())
    assert (d.state, d.outcome, d.reopen, d.survey, d.attempts) == (
        State.REOPENED, Outcome.NOT_SATISFIED, True, None, 2
    )  # fmt: skip


def test_retention_call_has_no_complaint_to_reopen_nor_survey():
    unhappy = decide(CallbackKind.RETENTION, False, True, False, 0, NOW, policy())
    assert (unhappy.state, unhappy.outcome, unhappy.reopen) == (
        State.COMPLETED, Outcome.NOT_SATISFIED, False
    )  # fmt: skip
    happy = decide(CallbackKind.RETENTION, False, True, True, 0, NOW, policy())
    assert happy.survey is None


def test_unanswered_calls_retry_then_unreachable_with_the_survey_anyway():
    p = policy()
    first = decide(CallbackKind.RESOLUTION, True, False, None, 0, NOW, p)
    assert (first.state, first.attempts, first.next_due) == (
        State.SCHEDULED, 1, NOW + timedelta(hours=4)
    )  # fmt: skip
    second = decide(CallbackKind.RESOLUTION, True, False, None, 1, NOW, p)
    assert second.next_due == NOW + timedelta(days=1)
    last = decide(CallbackKind.RESOLUTION, True, False, None, 2, NOW, p)
    assert (last.state, last.outcome, last.survey, last.attempts) == (
        State.UNREACHABLE, Outcome.UNREACHABLE, SurveyReason.UNREACHABLE, 3
    )  # fmt: skip


def test_queue_order_puts_the_most_valuable_tier_first():
    from services.followup.callbacks import queue_rank

    order = [Tier.VIP, Tier.A, Tier.B, Tier.C, Tier.D]
    assert [queue_rank(t) for t in order] == sorted(queue_rank(t) for t in order)
    assert queue_rank(Tier.VIP) == 0
