"""Internal reviews: the report-back clock (a durable timer from the case's finish), the
review the team records (root cause, corrective and preventive actions with owners and due
dates) and the actions' reminders and overdue flags (durable timers).

Lock order, everywhere: the ledger entry (the consumer only; recording a review reads it
without locking it), then a subject's timers (cancelled, then armed again as needed), then
the review or action row. The timer scheduler holds a timer's row while its handler locks
the review, so taking the review before its timers could deadlock with it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger.deps import Deps
from services.ledger.domain.entry import LedgerEntry, Status
from services.ledger.domain.review import reminder_at, report_clock
from services.ledger.store import repository as repo
from shared import timers
from shared.events.ledger import (
    ActionKind,
    ReviewAction,
    ReviewActionDue,
    ReviewActionOverdue,
    ReviewRecorded,
    ReviewReportOverdue,
)
from shared.timers import Timer

log = logging.getLogger(__name__)

REPORT_DUE = "review.report_due"
ACTION_REMINDER = "review.action_reminder"
ACTION_OVERDUE = "review.action_overdue"
FINISHED = frozenset({Status.RESOLVED, Status.CLOSED, Status.SUSPENDED})


class NotFound(Exception):
    pass


class Conflict(Exception):
    """The complaint's state forbids it (not finished, already reviewed, action done)."""


class Invalid(Exception):
    """A field of the request is wrong: ``field`` names it."""

    def __init__(self, field: tuple[str | int, ...], message: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.value = value


def review_subject(complaint_id: uuid.UUID) -> str:
    return f"review:{complaint_id}"


def action_subject(action_id: uuid.UUID) -> str:
    return f"action:{action_id}"


# ---- the report-back clock ----------------------------------------------------------------


async def lock_clock(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Take the clock's timers first (lock order); whoever continues arms what still runs."""
    await timers.cancel(session, review_subject(complaint_id), [REPORT_DUE])


async def start_report_clock(
    session: AsyncSession, deps: Deps, entry: LedgerEntry, event_type: str
) -> None:
    """The case finished: the team reports back within ``review_report_within``. A case
    closed after its resolution keeps the clock its resolution started."""
    review = await repo.lock_review(session, entry.complaint_id)
    if review is not None and review["recorded_at"] is not None:
        return
    running = review is not None and review["report_due_at"] is not None
    if event_type != "case.resolved" and running:
        assert review is not None
        if review["went_overdue_at"] is None:
            await _arm_report(session, entry.complaint_id, review["report_due_at"])
        return
    finished = {
        "case.resolved": entry.resolved_at,
        "case.closed": entry.closed_at,
        "case.suspended": entry.suspended_at,
    }[event_type]
    if finished is None:
        return
    clock = report_clock(finished, deps.settings.review_report_within)
    await repo.upsert_review(
        session,
        entry.complaint_id,
        {
            "finished_at": clock.finished_at,
            "report_due_at": clock.due_at,
            "went_overdue_at": None,
            "team": entry.team,
            "updated_at": datetime.now(UTC),
        },
    )
    await _arm_report(session, entry.complaint_id, clock.due_at)


async def stop_report_clock(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Reopened before the report: handling is not finished, no clock runs until it is."""
    review = await repo.lock_review(session, complaint_id)
    if review is None or review["recorded_at"] is not None:
        return
    await repo.upsert_review(
        session,
        complaint_id,
        {"finished_at": None, "report_due_at": None, "went_overdue_at": None,
         "updated_at": datetime.now(UTC)},
    )  # fmt: skip


async def _arm_report(session: AsyncSession, complaint_id: uuid.UUID, due: datetime) -> None:
    await timers.arm(
        session, REPORT_DUE, review_subject(complaint_id), due, {"due_at": due.isoformat()}
    )


# ---- recording a review -------------------------------------------------------------------


@dataclass(frozen=True)
class ActionIn:
    kind: ActionKind
    description: str
    owner: str
    due_at: datetime


@dataclass(frozen=True)
class ReviewIn:
    root_cause: str
    summary: str | None
    actions: list[ActionIn]


async def record(
    session: AsyncSession,
    deps: Deps,
    complaint_id: uuid.UUID,
    wanted: ReviewIn,
    by: str,
    by_name: str | None,
    now: datetime,
) -> dict[str, Any]:
    cause = deps.taxonomy.find(wanted.root_cause)
    if cause is None:
        raise Invalid(
            ("body", "root_cause"),
            f"not in the taxonomy (version {deps.taxonomy.version}): "
            + ", ".join(deps.taxonomy.codes),
            wanted.root_cause,
        )
    for index, action in enumerate(wanted.actions):
        if action.due_at <= now:
            raise Invalid(("body", "actions", index, "due_at"), "must be in the future",
                          action.due_at.isoformat())  # fmt: skip
    await lock_clock(session, complaint_id)
    review = await repo.lock_review(session, complaint_id)
    entry = await repo.get_entry(session, complaint_id)
    if entry is None or entry.received_at is None:
        raise NotFound
    if entry.status not in FINISHED:
        raise Conflict(f"the complaint is {entry.status.value}: reviews follow handling")
    if review is not None and review["recorded_at"] is not None:
        raise Conflict("the review of this complaint is already recorded")
    due = review["report_due_at"] if review else None
    values = {
        "root_cause": cause.code,
        "root_cause_group": cause.group,
        "summary": wanted.summary,
        "recorded_at": now,
        "recorded_by": by,
        "recorded_by_name": by_name,
        "taxonomy_version": deps.taxonomy.version,
        "team": (review or {}).get("team") or entry.team,
        "updated_at": now,
    }
    await repo.upsert_review(session, complaint_id, values)
    rows = [
        {
            "id": uuid.uuid4(),
            "complaint_id": complaint_id,
            "kind": a.kind.value,
            "description": a.description,
            "owner": a.owner,
            "due_at": a.due_at,
        }
        for a in wanted.actions
    ]
    await repo.add_actions(session, rows)
    for row in rows:
        await _arm_action(session, deps, row, now)
    late = due is not None and now > due
    await deps.publish(
        session,
        str(complaint_id),
        ReviewRecorded(
            complaint_id=complaint_id,
            root_cause=cause.code,
            root_cause_group=cause.group,
            summary=wanted.summary,
            actions=[
                ReviewAction(
                    action_id=r["id"],
                    kind=r["kind"],
                    description=r["description"],
                    owner=r["owner"],
                    due_at=r["due_at"],
                )
                for r in rows
            ],
            by=by,
            by_name=by_name,
            at=now,
            report_due_at=due,
            report_late=late,
        ),
        at=now,
    )
    log.info("review recorded", extra={"complaint_id": str(complaint_id), "late": late})
    return await view(session, complaint_id, now)


async def _arm_action(session: AsyncSession, deps: Deps, row: dict, now: datetime) -> None:
    subject = action_subject(row["id"])
    payload = {"due_at": row["due_at"].isoformat()}
    remind = reminder_at(row["due_at"], deps.settings.action_reminder_before, now)
    if remind is not None:
        await timers.arm(session, ACTION_REMINDER, subject, remind, payload)
    await timers.arm(session, ACTION_OVERDUE, subject, row["due_at"], payload)


async def complete_action(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    action_id: uuid.UUID,
    by: str,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    await timers.cancel(session, action_subject(action_id), [ACTION_REMINDER, ACTION_OVERDUE])
    action = await repo.lock_action(session, action_id)
    if action is None or action["complaint_id"] != complaint_id:
        raise NotFound
    if action["done_at"] is not None:
        raise Conflict("this action is already done")
    await repo.update_action(session, action_id, {"done_at": now, "done_by": by, "note": note})
    return await view(session, complaint_id, now)


async def view(session: AsyncSession, complaint_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    review = await repo.get_review(session, complaint_id)
    if review is None:
        raise NotFound
    return review | {"actions": await repo.actions_of(session, complaint_id)}


# ---- timers -------------------------------------------------------------------------------


def timer_handlers(deps: Deps):
    async def on_report_due(session: AsyncSession, timer: Timer) -> None:
        complaint_id = uuid.UUID(timer.subject.split(":", 1)[1])
        review = await repo.lock_review(session, complaint_id)
        if review is None or review["recorded_at"] is not None:
            return
        due = review["report_due_at"]
        if due is None or due != datetime.fromisoformat(timer.payload["due_at"]):
            return  # the clock stopped or restarted since
        if review["went_overdue_at"] is not None:
            return
        now = datetime.now(UTC)
        await repo.upsert_review(session, complaint_id, {"went_overdue_at": now, "updated_at": now})
        await deps.publish(
            session,
            str(complaint_id),
            ReviewReportOverdue(
                complaint_id=complaint_id,
                finished_at=review["finished_at"],
                due_at=due,
                team=review["team"],
                at=now,
            ),
            at=now,
        )
        log.warning("review report overdue", extra={"complaint_id": str(complaint_id)})

    async def on_action(session: AsyncSession, timer: Timer) -> None:
        action = await repo.lock_action(session, uuid.UUID(timer.subject.split(":", 1)[1]))
        if action is None or action["done_at"] is not None:
            return
        now = datetime.now(UTC)
        fields = {
            "complaint_id": action["complaint_id"],
            "action_id": action["id"],
            "kind": action["kind"],
            "owner": action["owner"],
            "due_at": action["due_at"],
            "at": now,
        }
        if timer.kind == ACTION_REMINDER:
            await repo.update_action(session, action["id"], {"reminded_at": now})
            data: ReviewActionDue | ReviewActionOverdue = ReviewActionDue(**fields)
        else:
            await repo.update_action(session, action["id"], {"went_overdue_at": now})
            data = ReviewActionOverdue(**fields)
        await deps.publish(session, str(action["complaint_id"]), data, at=now)

    return {REPORT_DUE: on_report_due, ACTION_REMINDER: on_action, ACTION_OVERDUE: on_action}
