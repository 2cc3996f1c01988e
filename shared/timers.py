"""Durable timers: deadlines live in PostgreSQL, never only in memory.

``arm`` writes a timer in the caller's transaction (so a timer exists if and only if the
state change that set it committed). ``TimerScheduler`` fires due timers: it locks a batch
with ``FOR UPDATE SKIP LOCKED`` (replicas share the work and never fire the same timer), runs
each handler in a savepoint of the same transaction that marks the timer fired, and commits.
A handler's effects, its outbox events and the "fired" mark commit together: each timer takes
effect exactly once. A crash before the commit leaves the timer due; the next scheduler to
look, in this process or another, fires it.

A handler that fails is retried with exponential back-off (``retry_after`` doubling up to
``max_backoff``). After ``max_attempts`` failures the timer is parked as failed
(``failed_at``): counted in a gauge, listed and retried by operators (shared.ops.timers), and
still retried at the longest back-off. A deadline is never dropped. A timer cancelled by the
handler of another timer of the same batch is not fired (nor counted).

Between firings the scheduler sleeps until the next due time (a single index lookup), woken
early by a NOTIFY when a timer is armed before that time (the notification carries the
earliest due time of what was armed): prompt when busy, idle when not, and a deadline hours
away costs no look."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import is_unavailable
from shared.logs import describe_error
from shared.notifications import Notifications, sleep_unless_stopped

log = logging.getLogger(__name__)

FIRED = Counter("timers_fired_total", "Timers fired", ["kind"])
FAILED = Counter("timers_failed_total", "Timer handler failures (retried later)", ["kind"])
PARKED_ROWS = Gauge("timers_parked_rows", "Timers parked as failed, still being retried")
PARKINGS = Counter(
    "timers_parked_total", "Timers parked as failed after repeated failures", ["kind"]
)
LATENESS = Histogram(
    "timer_lateness_seconds",
    "How long after its due time a timer fired",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    subject: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[AsyncSession, Timer], Awaitable[None]]
# Many due timers of one kind at once (set-based firing); same effect as the per-timer
# handler applied to each in turn, which still serves a batch that failed.
TimerBatchHandler = Callable[[AsyncSession, list[Timer]], Awaitable[None]]

# session.info key: ids of timers cancelled in the scheduler's transaction (see _still_pending).
_CANCELLED = "shared.timers.cancelled"

_ARM = sa.text(
    "INSERT INTO timers (kind, subject, due_at, payload) "
    "VALUES (:kind, :subject, :due_at, CAST(:payload AS jsonb)) RETURNING id"
)


async def arm(
    session: AsyncSession | AsyncConnection,
    kind: str,
    subject: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> int:
    return (
        await session.execute(
            _ARM,
            {
                "kind": kind,
                "subject": subject,
                "due_at": due_at,
                "payload": json.dumps(payload or {}),
            },
        )
    ).scalar_one()


_ARM_MANY = sa.text(
    "INSERT INTO timers (kind, subject, due_at, payload) "
    "SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:subjects AS text[]), "
    "CAST(:dues AS timestamptz[]), CAST(:payloads AS jsonb[]))"
)


async def arm_many(
    session: AsyncSession | AsyncConnection,
    wanted: list[tuple[str, str, datetime, dict[str, Any] | None]],
) -> None:
    """Arm many timers (kind, subject, due, payload) in one statement: a batch's worth."""
    if not wanted:
        return
    await session.execute(
        _ARM_MANY,
        {
            "kinds": [w[0] for w in wanted],
            "subjects": [w[1] for w in wanted],
            "dues": [w[2] for w in wanted],
            "payloads": [
                orjson.dumps(w[3] or {}, option=orjson.OPT_NON_STR_KEYS).decode() for w in wanted
            ],
        },
    )


async def cancel(
    session: AsyncSession | AsyncConnection, subject: str, kinds: list[str] | None = None
) -> int:
    """Cancel the pending timers of ``subject`` (of ``kinds``, or all); returns how many."""
    query = (
        "UPDATE timers SET cancelled_at = now() "
        "WHERE subject = :subject AND fired_at IS NULL AND cancelled_at IS NULL"
    )
    params: dict[str, Any] = {"subject": subject}
    if kinds is not None:
        query += " AND kind = ANY(:kinds)"
        params["kinds"] = kinds
    ids = (await session.execute(sa.text(query + " RETURNING id"), params)).scalars().all()
    note_cancelled(session, ids)
    return len(ids)


async def cancel_unless_firing(session: AsyncSession | AsyncConnection, ids: list[int]) -> int:
    """Cancel these pending timers, skipping any a scheduler is firing right now: waiting for
    it while holding the caller's own rows could deadlock with a handler that wants them.
    A skipped timer still fires; its handler must find nothing left to do."""
    cancelled = (
        await session.execute(
            sa.text(
                "UPDATE timers SET cancelled_at = now() WHERE id IN ("
                "  SELECT id FROM timers WHERE id = ANY(:ids) "
                "  AND fired_at IS NULL AND cancelled_at IS NULL FOR UPDATE SKIP LOCKED) "
                "RETURNING id"
            ),
            {"ids": ids},
        )
    ).scalars().all()  # fmt: skip
    note_cancelled(session, cancelled)
    return len(cancelled)


def note_cancelled(session: AsyncSession | AsyncConnection, ids: Any) -> None:
    """Inside a scheduler's transaction, remember what a handler cancelled: a sibling timer of
    the same batch must then not fire. For handlers that cancel timers with their own SQL
    (as ``cancel_unless_firing`` does, skipping those being fired)."""
    noted = session.info.get(_CANCELLED)
    if noted is not None:
        noted.update(ids)


async def pending(session: AsyncSession | AsyncConnection, subject: str) -> list[Timer]:
    rows = await session.execute(
        sa.text(
            "SELECT id, kind, subject, due_at, payload, attempts FROM timers "
            "WHERE subject = :subject AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at"
        ),
        {"subject": subject},
    )
    return [Timer(**r) for r in rows.mappings()]


def groups(due: list[Timer], batched: Mapping[str, object]) -> list[list[Timer]]:
    """Split due timers (in due order) into the groups to fire in turn: a timer of a kind
    without a batch handler alone; otherwise it and the later timers of its kind whose
    subject has no earlier timer still waiting, up to the next unbatched one."""
    out: list[list[Timer]] = []
    pending = due
    while pending:
        head = pending[0]
        if head.kind not in batched:
            out.append([head])
            pending = pending[1:]
            continue
        group, rest, blocked = [head], [], set()
        for i in range(1, len(pending)):
            timer = pending[i]
            if timer.kind not in batched:
                rest += pending[i:]
                break
            if timer.kind == head.kind and timer.subject not in blocked:
                group.append(timer)
            else:
                blocked.add(timer.subject)
                rest.append(timer)
        out.append(group)
        pending = rest
    return out


class TimerScheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        handlers: Mapping[str, TimerHandler],
        *,
        batch_size: int = 200,
        max_sleep: float = 30.0,
        retry_after: float = 5.0,
        max_backoff: float = 300.0,
        max_attempts: int = 10,
        retention: timedelta = timedelta(days=7),
        batch_handlers: Mapping[str, TimerBatchHandler] | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.handlers = handlers
        self.batch_handlers = batch_handlers or {}
        self.batch_size = batch_size
        self.max_sleep = max_sleep
        self.retry_after = retry_after
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.retention = retention
        self.rounds = 0  # fire_due calls: a scheduler that spins shows here
        self._pruned_at = float("-inf")
        self._counted_at = float("-inf")
        # Armed timers notify with their earliest due time: only one due before this
        # scheduler's next look wakes it (infinity: in a round, every one counts).
        self._next_look = math.inf  # the database's clock, seconds since the epoch
        self._clock_ahead = 0.0  # the database's clock minus this host's
        self._notes = Notifications(engine, "timers", self._due_before_next_look)

    def _due_before_next_look(self, payload: str) -> bool:
        try:
            return float(payload) < self._next_look
        except ValueError:
            return True  # no time given (a due_at moved): look now

    async def fire_due(self) -> tuple[int, float]:
        """Fire one batch of due timers, in one transaction; returns how many were handled
        and the seconds until the next pending timer (at most ``max_sleep``)."""
        self.rounds += 1
        async with self.sessions.begin() as session:
            rows = (
                await session.execute(
                    sa.text(
                        "SELECT id, kind, subject, due_at, payload, attempts FROM timers "
                        "WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= now() "
                        "ORDER BY due_at LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self.batch_size},
                )
            ).mappings().all()  # fmt: skip
            due = [Timer(**row) for row in rows]
            if due:
                session.info[_CANCELLED] = set()
                try:
                    handled = await self._handle(session, due)
                finally:
                    session.info.pop(_CANCELLED, None)
                if handled:
                    # A timer a sibling's handler cancelled is neither marked nor counted.
                    fired = (
                        await session.execute(
                            sa.text(
                                "UPDATE timers SET fired_at = clock_timestamp() "
                                "WHERE id = ANY(:ids) AND cancelled_at IS NULL "
                                "RETURNING id, clock_timestamp() AS now"
                            ),
                            {"ids": [t.id for t in handled]},
                        )
                    ).all()
                    kinds = {t.id: t for t in handled}
                    for timer_id, now in fired:
                        timer = kinds[timer_id]
                        FIRED.labels(timer.kind).inc()
                        LATENESS.observe(max(0.0, (now - timer.due_at).total_seconds()))
            # The next timer no other scheduler is firing right now: counting one that another
            # replica holds (and will mark fired) would wake this one at once, again and again.
            # FOR KEY SHARE: skips rows locked FOR UPDATE yet blocks no one's cancel().
            # With the database's clock, which the armed timers' notifications compare with.
            db_now, wait = (
                await session.execute(
                    sa.text(
                        "SELECT EXTRACT(EPOCH FROM clock_timestamp()), "
                        "(SELECT EXTRACT(EPOCH FROM due_at - clock_timestamp()) FROM timers "
                        " WHERE fired_at IS NULL AND cancelled_at IS NULL "
                        " ORDER BY due_at LIMIT 1 FOR KEY SHARE SKIP LOCKED)"
                    )
                )
            ).one()
            self._clock_ahead = float(db_now) - time.time()
        until_next = self.max_sleep if wait is None else max(0.0, min(float(wait), self.max_sleep))
        return len(due), until_next

    async def _handle(self, session: AsyncSession, due: list[Timer]) -> list[Timer]:
        """Run the handlers of ``due`` in one savepoint; should one fail, roll back and run them
        again one savepoint each, so the others still fire and the failure is recorded."""
        try:
            async with session.begin_nested():
                if self.batch_handlers:
                    return await self._call_batched(session, due)
                called = [timer for timer in due if await self._call(session, timer)]
            return called
        except Exception as exc:
            if is_unavailable(exc):
                raise
        fired = []
        for timer in due:
            try:
                async with session.begin_nested():
                    if not await self._call(session, timer):
                        continue
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                await self._failed(session, timer, exc)
                continue
            fired.append(timer)
        return fired

    async def _call_batched(self, session: AsyncSession, due: list[Timer]) -> list[Timer]:
        """Timers of a kind with a batch handler fired together, each subject's in due
        order (``groups``); the others one by one."""
        called: list[Timer] = []
        for group in groups(due, self.batch_handlers):
            batch = self.batch_handlers.get(group[0].kind)
            if batch is None or len(group) == 1:
                called += [timer for timer in group if await self._call(session, timer)]
                continue
            noted = session.info.get(_CANCELLED, ())
            live = [t for t in group if t.id not in noted or await self._still_pending(session, t)]
            if live:
                await batch(session, live)
            called += live
        return called

    async def _call(self, session: AsyncSession, timer: Timer) -> bool:
        """Run the timer's handler unless a handler earlier in the batch cancelled it."""
        if timer.id in session.info.get(_CANCELLED, ()) and not await self._still_pending(
            session, timer
        ):
            return False
        handler = self.handlers.get(timer.kind)
        if handler is None:
            raise LookupError(f"no handler for timer kind {timer.kind!r}")
        await handler(session, timer)
        return True

    async def _still_pending(self, session: AsyncSession, timer: Timer) -> bool:
        # Noted as cancelled, but the savepoint that cancelled it may have been rolled back.
        cancelled = await session.scalar(
            sa.text("SELECT cancelled_at IS NOT NULL FROM timers WHERE id = :id"), {"id": timer.id}
        )
        return not cancelled

    async def _failed(self, session: AsyncSession, timer: Timer, exc: Exception) -> None:
        FAILED.labels(timer.kind).inc()
        attempts = timer.attempts + 1
        delay = min(self.retry_after * 2 ** (attempts - 1), self.max_backoff)
        parks = attempts == self.max_attempts
        log.error(
            "timer handler failed" + ("; parked as failed" if parks else "; will retry"),
            extra={"timer_id": timer.id, "kind": timer.kind, "subject": timer.subject,
                   "error": describe_error(exc), "attempts": attempts, "retry_in": delay},
        )  # fmt: skip
        await session.execute(
            sa.text(
                "UPDATE timers SET attempts = :attempts, last_error = :error, "
                "due_at = now() + make_interval(secs => :delay), "
                "failed_at = CASE WHEN :parks THEN coalesce(failed_at, now()) ELSE failed_at END "
                "WHERE id = :id"
            ),
            {"attempts": attempts, "error": describe_error(exc)[:2000], "delay": delay,
             "parks": attempts >= self.max_attempts, "id": timer.id},
        )  # fmt: skip
        if parks:
            PARKINGS.labels(timer.kind).inc()
            PARKED_ROWS.inc()

    async def count_parked(self) -> int:
        """Refresh the gauge of timers parked as failed."""
        async with self.engine.connect() as conn:
            parked = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM timers WHERE failed_at IS NOT NULL "
                    "AND fired_at IS NULL AND cancelled_at IS NULL"
                )
            )
        PARKED_ROWS.set(parked or 0)
        return parked or 0

    async def prune(self) -> int:
        """Delete timers fired or cancelled longer ago than the retention: the table stays
        the size of what is pending (the services keep their own history)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.text(
                    # The IS NOT NULL test matches ix_timers_done's predicate, so it is used.
                    "DELETE FROM timers WHERE (fired_at IS NOT NULL OR cancelled_at IS NOT NULL) "
                    "AND coalesce(fired_at, cancelled_at) < now() - CAST(:keep AS interval)"
                ),
                {"keep": self.retention},
            )
        return result.rowcount or 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                now = asyncio.get_running_loop().time()
                if now - self._pruned_at > 3600:
                    self._pruned_at = now
                    await self.prune()
                if now - self._counted_at > 30:
                    self._counted_at = now
                    await self.count_parked()
                await self._notes.listen()
                self._next_look = math.inf
                self._notes.clear()
                fired, until_next = await self.fire_due()
                if fired >= self.batch_size:
                    continue
                self._next_look = time.time() + self._clock_ahead + until_next
                await self._notes.wait(stop, until_next)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("timer scheduler: database unavailable", extra={"error": str(exc)})
                    await self._notes.close()
                else:
                    log.exception("timer scheduler failed")
                await sleep_unless_stopped(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        await self._notes.close()
