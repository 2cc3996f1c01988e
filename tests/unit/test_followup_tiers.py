"""Monthly tiers from activity (DOMAIN.md: A 11+, B 6-10, C 1-5, D = came last month, not
this month) and when a change is a drop."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.followup.domain.policy import TierThresholds
from services.followup.domain.tiers import (
    day_of,
    dropped,
    month_end,
    month_of,
    months_between,
    next_month,
    previous_month,
    review,
    review_at,
    tier_for,
)
from shared.events.common import Tier

T = TierThresholds()
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("visits", "previous", "tier"),
    [
        (11, 0, Tier.A), (30, 0, Tier.A), (10, 20, Tier.B), (6, 0, Tier.B), (5, 0, Tier.C),
        (1, 0, Tier.C), (0, 1, Tier.D), (0, 15, Tier.D), (0, 0, None),
    ],
)  # fmt: skip
def test_tier_for(visits, previous, tier):
    assert tier_for(visits, previous, T) == tier


def test_thresholds_are_configurable():
    small = TierThresholds(A=4, B=2, C=1)
    assert [tier_for(n, 0, small) for n in (4, 3, 2, 1)] == [Tier.A, Tier.B, Tier.B, Tier.C]


@pytest.mark.parametrize(
    ("before", "after", "drop"),
    [
        (Tier.A, Tier.B, True), (Tier.B, Tier.D, True), (Tier.C, Tier.D, True),
        (Tier.B, Tier.A, False), (Tier.B, Tier.B, False), (None, Tier.C, False),
        (Tier.D, None, False),
    ],
)  # fmt: skip
def test_dropped(before, after, drop):
    assert dropped(before, after) is drop


def test_review_names_the_drop():
    found = review(date(2026, 10, 1), 7, 12, Tier.A, T)
    assert (found.tier, found.dropped_from) == (Tier.B, Tier.A)
    assert found.reason() == "tier fell from A to B: 7 visits in 2026-10, 12 the month before"
    assert review(date(2026, 10, 1), 12, 3, Tier.C, T).dropped_from is None


def test_months_in_a_time_zone():
    # 2026-10-31 20:00 UTC is already November in Shanghai.
    at = datetime(2026, 10, 31, 20, tzinfo=UTC)
    assert month_of(at, ZoneInfo("UTC")) == date(2026, 10, 1)
    assert month_of(at, SHANGHAI) == date(2026, 11, 1)
    assert day_of(at, SHANGHAI) == date(2026, 11, 1)
    assert month_end(date(2026, 12, 1), SHANGHAI) == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_month_arithmetic_over_the_year_end():
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)
    assert months_between(date(2026, 11, 1), date(2027, 2, 1)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)
    ]  # fmt: skip
    assert months_between(date(2026, 11, 1), date(2026, 10, 1)) == []


def test_review_waits_for_the_month_end_and_for_late_activity():
    utc = ZoneInfo("UTC")
    grace = timedelta(days=1)
    month = date(2026, 11, 1)
    early = datetime(2026, 11, 5, tzinfo=UTC)
    assert review_at(month, early, utc, grace) == datetime(2026, 12, 2, tzinfo=UTC)
    late = datetime(2026, 12, 10, tzinfo=UTC)  # a backfill arriving after the month
    assert review_at(month, late, utc, grace) == late + grace
