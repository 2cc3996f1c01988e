"""Calls about a customer's activity (DOMAIN.md: "a retailer called 3 days after a sale, and
again after an exchange"): a ``customer.activity`` of kind ``purchase`` or ``exchange``
schedules a call-back (kind ``after_sale`` or ``after_exchange``) the policy's days later, on
the same durable timers as every call-back (``callback.due``, ``callback.overdue``).

- The same activity twice is one call: a redelivered event is dropped by the inbox, and the
  same purchase told again under another event id by its ``reference`` (order or receipt
  number; without one, the event id stands for it), kept in ``callback_activities``.
- Many purchases: one open call per customer and kind. A purchase while the customer's
  after-sale call is still open joins it (listed in its ``details.activities``; its due time
  stays, the call asks about all of them) instead of making a second call the same week.
  Once that call is closed, the next purchase gets its own. A unique partial index keeps it
  at one even with replicas racing.
- Activity that arrives long after it happened (``after_activity.call_within``) is counted
  for the tiers (retention) but not called about.

A new handler beside retention's (both run for ``customer.activity``, in one transaction:
``app.py`` chains them); lock order as there: the customer's timers and row (retention), then
a call-back row."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.followup.callbacks import Deps, planned, schedule
from services.followup.domain.policy import after_activity_due
from services.followup.store import repository as repo
from shared.events.activity import ActivityKind, CustomerActivity
from shared.events.common import ContactCard
from shared.events.envelope import Envelope
from shared.events.followup import CallbackKind
from shared.events.versions import read
from shared.messaging.consumer import Handler

log = logging.getLogger(__name__)

KIND_OF = {
    ActivityKind.PURCHASE: CallbackKind.AFTER_SALE,
    ActivityKind.EXCHANGE: CallbackKind.AFTER_EXCHANGE,
}
WORDS = {ActivityKind.PURCHASE: "purchase", ActivityKind.EXCHANGE: "exchange"}


def listed(activity: CustomerActivity, reference: str) -> dict[str, Any]:
    """How an activity is listed on its call-back (``details.activities``)."""
    return {
        "kind": activity.kind.value,
        "at": activity.at.isoformat(),
        "reference": reference,
        "location": activity.location,
        "amount": activity.amount,
    }


def reason_of(activity: CustomerActivity, due: datetime) -> str:
    where = f" at {activity.location}" if activity.location else ""
    what = f" ({activity.reference})" if activity.reference else ""
    days = (due - activity.at).total_seconds() / 86400
    day = f"{activity.at:%Y-%m-%d}"
    return f"{WORDS[activity.kind]}{what}{where} on {day}: called {days:.1f} days after"


async def call_about(
    session: AsyncSession,
    deps: Deps,
    activity: CustomerActivity,
    event_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID | None:
    """Schedule (or join) the call about one purchase or exchange; returns the call-back's id,
    None when nothing is called about (a visit, a duplicate, too old, a kind not called)."""
    kind = KIND_OF.get(activity.kind)
    due = after_activity_due(activity.kind, activity.at, now, deps.policy)
    if kind is None or due is None:
        return None
    customer_id = activity.customer.id
    reference = activity.reference or f"event:{event_id}"
    if not await repo.record_activity(session, kind.value, customer_id, reference, activity.at):
        log.info("activity already called about", extra={"customer_id": customer_id})
        return None
    entry = listed(activity, reference)
    for _ in range(2):  # the open call may close between the insert and the look-up
        callback_id = await schedule(
            session,
            deps,
            planned(
                deps,
                origin=f"{kind.value}:{customer_id}:{reference}",
                kind=kind,
                complaint_id=None,
                customer=ContactCard.model_validate(activity.customer.model_dump()),
                due_at=due,
                reason=reason_of(activity, due)[:1000],
                now=now,
                site=activity.location,
                details={"activities": [entry]},
            ),
        )
        if callback_id is None:
            callback_id = await _join(session, customer_id, kind, entry, now)
        if callback_id is not None:
            await repo.link_activity(session, kind.value, customer_id, reference, callback_id)
            return callback_id
    raise RuntimeError("no open call to join and none could be scheduled")  # retried, then parked


async def _join(
    session: AsyncSession,
    customer_id: str,
    kind: CallbackKind,
    entry: dict[str, Any],
    now: datetime,
) -> uuid.UUID | None:
    """Add the activity to the customer's open call of this kind, if there is one."""
    open_call = await repo.open_activity_call(session, customer_id, kind.value)
    if open_call is None:
        return None
    details = dict(open_call["details"] or {})
    details["activities"] = [*details.get("activities", []), entry]
    await repo.update_callback(session, open_call["id"], {"details": details, "updated_at": now})
    log.info(
        "activity joins the open call",
        extra={"callback_id": str(open_call["id"]), "kind": kind.value},
    )
    return open_call["id"]


def handlers(deps: Deps) -> dict[str, Handler]:
    async def on_activity(session: AsyncSession, event: Envelope) -> None:
        activity = read(CustomerActivity, event.data)
        await call_about(session, deps, activity, event.id, datetime.now(UTC))

    return {CustomerActivity.event_type: on_activity}
