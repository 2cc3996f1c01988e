"""Monthly customer tiers from activity (DOMAIN.md): A 11+ visits a month, B 6-10, C 1-5,
D = came last month, not this month. A drop in tier triggers a retention call. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.followup.domain.policy import TierThresholds
from shared.events.common import Tier

# Higher is better. VIP is set by the business, never by visits, so it never "drops" here.
RANK = {Tier.D: 1, Tier.C: 2, Tier.B: 3, Tier.A: 4, Tier.VIP: 5}


def month_of(at: datetime, zone: ZoneInfo) -> date:
    """The first day of ``at``'s calendar month in ``zone``."""
    local = at.astimezone(zone)
    return date(local.year, local.month, 1)


def day_of(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_end(month: date, zone: ZoneInfo) -> datetime:
    """The instant the month ends (midnight starting the next month, in ``zone``)."""
    following = next_month(month)
    return datetime(following.year, following.month, 1, tzinfo=zone)


def months_between(first: date, last: date) -> list[date]:
    """``first`` .. ``last`` inclusive, month by month."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def tier_for(visits: int, previous_visits: int, thresholds: TierThresholds) -> Tier | None:
    """The tier a month's visits earn; None: not a customer that month (nor the month before)."""
    if visits >= thresholds.A:
        return Tier.A
    if visits >= thresholds.B:
        return Tier.B
    if visits >= thresholds.C:
        return Tier.C
    if previous_visits >= thresholds.C:
        return Tier.D
    return None


def queue_tier(now: Tier, before: Tier | None) -> Tier:
    """The tier a call-back is worked at: the higher of the customer's tier now and before a
    drop. A lapsed A customer is still an A customer: the retention call is about keeping
    exactly that value, so it must not sink to the bottom of the queue."""
    if before is None or RANK[now] >= RANK[before]:
        return now
    return before


def dropped(before: Tier | None, after: Tier | None) -> bool:
    """A fall to a lower tier. A first tier is no drop; nor is lapsing after D (already
    called when they became D)."""
    if before is None or after is None:
        return False
    return RANK[after] < RANK[before]


@dataclass(frozen=True)
class MonthReview:
    month: date
    visits: int
    previous_visits: int
    tier: Tier | None
    dropped_from: Tier | None  # set when this month is a drop

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    def reason(self) -> str:
        assert self.dropped_from is not None and self.tier is not None
        return (
            f"tier fell from {self.dropped_from} to {self.tier}: {self.visits} visits in "
            f"{self.label}, {self.previous_visits} the month before"
        )


def review(
    month: date,
    visits: int,
    previous_visits: int,
    tier_before: Tier | None,
    thresholds: TierThresholds,
) -> MonthReview:
    tier = tier_for(visits, previous_visits, thresholds)
    return MonthReview(
        month=month,
        visits=visits,
        previous_visits=previous_visits,
        tier=tier,
        dropped_from=tier_before if dropped(tier_before, tier) else None,
    )


def review_at(
    month: date, last_activity_received: datetime, zone: ZoneInfo, grace: timedelta
) -> datetime:
    """When to review ``month`` if no later month's activity comes first: ``grace`` after the
    month ended and after the customer's last activity arrived (a late feed still counts)."""
    return max(month_end(month, zone), last_activity_received) + grace
