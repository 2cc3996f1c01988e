"""Proactive retention: count each customer's monthly visits from ``customer.activity``,
review each month once it is over, and when the tier falls schedule a retention call-back.

A month is reviewed when the customer's activity of a later month arrives, or by a durable
timer (``customer.review``) ``review_grace`` after the month ended and after the customer's
last activity arrived: a customer who stops coming still becomes D, and a backfilled history
is reviewed only once it has all arrived. Lock order as for call-backs: the customer's
timers first, then the customer's row."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.callbacks import Deps, planned, schedule
from services.followup.domain.policy import retention_due
from services.followup.domain.tiers import (
    MonthReview,
    day_of,
    month_end,
    month_of,
    months_between,
    next_month,
    previous_month,
    review,
    review_at,
)
from services.followup.store import repository as repo
from shared import timers
from shared.events.activity import CustomerActivity
from shared.events.common import ContactCard, Tier
from shared.events.envelope import Envelope
from shared.events.followup import CallbackKind, TierChange
from shared.timers import Timer

log = logging.getLogger(__name__)

REVIEW = "customer.review"
MAX_MONTHS = 24  # a longer gap is reviewed from its last 24 months: older ones cannot drop


def subject_of(customer_id: str) -> str:
    return f"customer:{customer_id}"


def handlers(deps: Deps):
    zone = deps.policy.retention.zone
    grace = deps.policy.retention.review_grace

    async def on_activity(session: AsyncSession, event: Envelope) -> None:
        activity = CustomerActivity.model_validate(event.data)
        customer_id = activity.customer.id
        now = datetime.now(UTC)
        month = month_of(activity.at, zone)
        subject = subject_of(customer_id)
        known = await repo.get_customer(session, customer_id)
        latest = max(month, known["last_activity_month"]) if known else month
        review_due = review_at(latest, now, zone, grace)
        # One pending review per customer. A live feed keeps the same one all month (its
        # time is the month's end); only late activity pushes it back. Timers before the
        # customer's row (lock order).
        pending = [t for t in await timers.pending(session, subject) if t.kind == REVIEW]
        rearm = not (
            len(pending) == 1
            and pending[0].payload.get("month") == latest.isoformat()
            and pending[0].due_at >= review_due
        )
        if rearm:
            await timers.cancel(session, subject, [REVIEW])
        customer = await repo.upsert_customer(
            session, customer_id, activity.customer.model_dump(mode="json"), month, now
        )
        await repo.record_visit_day(session, customer_id, day_of(activity.at, zone), month)
        if customer["reviewed_month"] is not None and month <= customer["reviewed_month"]:
            log.info(
                "activity for a month already reviewed: counted, tier unchanged",
                extra={"customer_id": customer_id, "month": month.isoformat()},
            )
        # Activity of a later month closes the months before it.
        await _review_until(session, deps, customer, previous_month(latest), now)
        if rearm:
            await timers.arm(session, REVIEW, subject, review_due, {"month": latest.isoformat()})

    async def on_review(session: AsyncSession, timer: Timer) -> None:
        month = date.fromisoformat(timer.payload["month"])
        customer = await repo.get_customer(session, timer.subject.split(":", 1)[1], lock=True)
        if customer is None:
            return
        now = datetime.now(UTC)
        last = await _review_until(session, deps, customer, month, now)
        if last is not None and last.visits > 0:
            # Came this month: review the next one too, to notice if they stop coming (D).
            following = next_month(month)
            await timers.arm(
                session,
                REVIEW,
                timer.subject,
                month_end(following, zone) + grace,
                {"month": following.isoformat()},
            )

    return {CustomerActivity.event_type: on_activity}, {REVIEW: on_review}


async def _review_until(
    session: AsyncSession, deps: Deps, customer: dict[str, Any], until: date, now: datetime
) -> MonthReview | None:
    """Review the customer's months not yet reviewed, up to ``until``; returns the last."""
    customer_id = customer["customer_id"]
    reviewed: date | None = customer["reviewed_month"]
    if reviewed is not None:
        first = next_month(reviewed)
    else:
        first = await repo.first_activity_month(session, customer_id) or until
    months = months_between(first, until)[-MAX_MONTHS:]
    if not months:
        return None
    visits = await repo.visits_by_month(session, customer_id, [previous_month(months[0]), *months])
    tier = Tier(customer["tier"]) if customer["tier"] else None
    last = None
    for month in months:
        last = review(
            month, visits[month], visits[previous_month(month)], tier, deps.policy.retention.tiers
        )
        await repo.add_tier_history(
            session,
            {
                "customer_id": customer_id,
                "month": month,
                "visits": last.visits,
                "tier": last.tier.value if last.tier else None,
                "dropped_from": last.dropped_from.value if last.dropped_from else None,
                "reviewed_at": now,
            },
        )
        if last.dropped_from is not None:
            await _call(session, deps, customer, last, now)
        tier = last.tier
    await repo.set_reviewed(session, customer_id, months[-1], tier.value if tier else None, now)
    customer |= {"reviewed_month": months[-1], "tier": tier.value if tier else None}
    return last


async def _call(
    session: AsyncSession, deps: Deps, customer: dict[str, Any], found: MonthReview, now: datetime
) -> None:
    assert found.dropped_from is not None and found.tier is not None
    zone = deps.policy.retention.zone
    if now - month_end(found.month, zone) > deps.policy.retention.call_within:
        log.info(
            "tier drop too long ago to call about",
            extra={"customer_id": customer["customer_id"], "month": found.label},
        )
        return
    card = ContactCard.model_validate(customer["card"])
    if card.tier != Tier.VIP:  # VIP is the business's own choice, not earned by visits
        card = card.model_copy(update={"tier": found.tier})
    await schedule(
        session,
        deps,
        planned(
            deps,
            origin=f"retention:{customer['customer_id']}:{found.label}",
            kind=CallbackKind.RETENTION,
            complaint_id=None,
            customer=card,
            due_at=retention_due(now, found.dropped_from, deps.policy),
            reason=found.reason(),
            now=now,
            tier_before=found.dropped_from,  # the queue keeps a lapsed A customer an A customer
            tier_change=TierChange(
                from_tier=found.dropped_from,
                to_tier=found.tier,
                month=found.label,
                visits=found.visits,
                previous_visits=found.previous_visits,
            ),
        ),
    )
