"""The ledger consumer's set-based path (the batch handler over batches of up to 500: entries,
report clocks and reviews read and written once per batch, report timers cancelled and armed
with one statement each) leaves the store as the per-event path (one event per transaction)
does: every entry, every review and every pending report timer, over complaints resolved,
closed after their resolution, suspended, reopened by the case or by follow-up and resolved
again, never resolved, with a review already recorded, or with a clock that already ran out;
clocks breached, surveys answered, an erasure in the middle of a complaint's events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.ledger import consumers, erasure
from services.ledger.deps import Deps
from services.ledger.reviews import REPORT_DUE, review_subject
from services.ledger.settings import LedgerSettings
from services.ledger.store.tables import entries, reviews
from shared import timers
from shared.db import create_engine
from shared.events.envelope import Envelope, new_event
from shared.events.privacy import CustomerErasureRequested, ErasureReason
from shared.messaging.consumer import BatchHandler
from shared.runtime import Runtime
from tests.integration.test_ledger import AUTH, event, handled, iso, received
from tests.support.consuming import handling_backlog, run_until_processed, service_settings

COMPLAINTS = 80
AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def cid_of(n: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_OID, f"ledger-batch-path-{n}")


def story(n: int) -> list[Envelope]:
    """Complaint ``n``'s events, in order; ``n`` picks the variation."""
    cid, at = cid_of(n), AT + timedelta(minutes=n)
    if n % 15 == 5:  # seeded with a clock that ran out: closed now, it stays run out
        return [received(cid, at), *handled(cid, at, resolved=False),
                event("case.closed", cid, {"at": iso(at + timedelta(hours=5))})]  # fmt: skip
    out = [received(cid, at, customer=f"c-{n % 7}"), *handled(cid, at, resolved=n % 8 != 7)]
    if n % 8 == 7:
        return out  # never resolved: no clock
    later = at + timedelta(hours=5)
    if n % 4 == 0:  # a clock breached, a survey answered (the entry's JSON columns)
        out.insert(1, event("case.sla_breached", cid, {"at": iso(at), "clock": "acknowledge",
                                                       "deadline": iso(at)}))  # fmt: skip
        out.append(event("survey.recorded", cid, {"level": "satisfied", "score": 4,
                                                  "factors": ["speed"], "cycle": 1,
                                                  "recorded_at": iso(later)}))  # fmt: skip
    if n % 9 == 4:  # erased mid-way: what comes later is erased again
        out.append(new_event("/t", str(cid), CustomerErasureRequested(
            erasure_id=uuid.uuid5(cid, "erasure"), reason=ErasureReason.REQUEST,
            complaint_id=cid, pseudonym=f"erased-{n}", requested_at=later,
        )))  # fmt: skip
    if n % 4 == 1:  # closed after its resolution: the resolution's clock keeps running
        out.append(event("case.closed", cid, {"at": iso(later), "outcome": "confirmed",
                                              "by": "p-li"}))  # fmt: skip
    elif n % 4 == 2:  # reopened by the case, resolved again: a new clock
        out.append(event("case.reopened", cid, {"at": iso(later), "round": 2,
                                                "reason": "unhappy"}))  # fmt: skip
        if n % 3 != 0:
            out.append(event("case.resolved", cid, {"at": iso(later + timedelta(hours=1)),
                                                    "by": "p-wang", "round": 2,
                                                    "team": "floor-2"}))  # fmt: skip
            if n % 3 == 1:
                out.append(event("case.closed", cid, {"at": iso(later + timedelta(hours=2)),
                                                      "outcome": "confirmed"}))  # fmt: skip
    elif n % 4 == 3:  # reopened by follow-up: the clock stops
        out.append(event("complaint.reopened", cid, {"at": iso(later), "reopens": 1}))
    if n % 8 == 6:
        out.append(event("case.suspended", cid, {"at": iso(later + timedelta(hours=3)),
                                                 "reason": "court"}))  # fmt: skip
    return out


async def seed_reviews(url: str) -> None:
    """What a database held before the events: a recorded review (its clock no longer
    moves), a clock that already ran out (closing keeps it, arms nothing), a clock running
    with its timer pending (cancelled and armed again as the events say)."""
    engine = create_engine(url, 2)
    try:
        async with engine.begin() as conn:
            for n in range(0, COMPLAINTS, 5):
                cid, due = cid_of(n), AT + timedelta(days=3)
                row = {"complaint_id": cid, "finished_at": AT, "report_due_at": due,
                       "team": "floor-0", "updated_at": AT}  # fmt: skip
                if n % 15 == 0:
                    row |= {"root_cause": "process_gap", "recorded_at": AT + timedelta(days=1),
                            "recorded_by": "p-li"}  # fmt: skip
                elif n % 15 == 5:
                    row |= {"went_overdue_at": due}
                else:
                    await timers.arm(conn, REPORT_DUE, review_subject(cid), due,
                                     {"due_at": due.isoformat()})  # fmt: skip
                await conn.execute(sa.insert(reviews).values(**row))
    finally:
        await engine.dispose()


class Seen:
    """What the batch handler did: the runner retries a failed batch one event at a time,
    which would hide a broken batch path from the comparison."""

    def __init__(self) -> None:
        self.events = 0
        self.failures: list[BaseException] = []


def watched(handlers: dict[str, BatchHandler], seen: Seen) -> dict[str, BatchHandler]:
    def wrap(handler: BatchHandler) -> BatchHandler:
        async def on_events(session: AsyncSession, events: list[Envelope]) -> None:
            try:
                await handler(session, events)
            except Exception as error:
                seen.failures.append(error)
                raise
            seen.events += len(events)

        return on_events

    return {kind: wrap(handler) for kind, handler in handlers.items()}


async def consume(settings: LedgerSettings, batched: bool, processed: int, seen: Seen) -> None:
    """This database's consumer as the app builds it, with the batch handlers over batches
    of up to 500 or without them one event per transaction; until the inbox holds
    ``processed``."""
    runtime = Runtime.build(settings)
    deps = Deps.of(settings, runtime.topics)
    runner = runtime.consumer(
        consumers.source_topics(runtime.topics),
        consumers.handlers(deps) | erasure.handlers(),
        batch_handlers=watched(consumers.batch_handlers(deps), seen) if batched else None,
    )
    runner.batch_size = 500 if batched else 1
    await run_until_processed(runtime, runner, processed, parked_allowed=False)


async def store(url: str) -> dict[str, list[tuple]]:
    """Every entry and review (but the wall times they were written and erased at), every
    pending report timer (but its id)."""
    engine = create_engine(url, 2)
    found: dict[str, list[tuple]] = {}
    try:
        async with engine.connect() as conn:
            for table in (entries, reviews):
                # When a row was written or erased is wall time: whether it was erased is not.
                kept = [c.is_not(None) if c.name == "erased_at" else c
                        for c in table.c if c.name != "updated_at"]  # fmt: skip
                rows = await conn.execute(sa.select(*kept).order_by(*table.primary_key.columns))
                found[table.name] = [tuple(r) for r in rows]
            rows = await conn.execute(sa.text(
                "SELECT kind, subject, due_at, payload FROM timers WHERE fired_at IS NULL "
                "AND cancelled_at IS NULL ORDER BY subject, kind, due_at"
            ))  # fmt: skip
            found["pending timers"] = [tuple(r) for r in rows]
    finally:
        await engine.dispose()
    return found


def first_difference(one: list[tuple], many: list[tuple]) -> object:
    for a, b in zip(one, many, strict=False):
        if a != b:
            return a[0], [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(one), len(many)


async def test_batch_path_leaves_the_store_as_the_per_event_path(
    servers, topics, databases
) -> None:
    # Every event on one topic (the ledger dispatches on the type, not the topic).
    events = [e for n in range(COMPLAINTS) for e in story(n)]
    own = await handling_backlog(servers, topics, "ledger-batch", events)
    common = {**service_settings(servers, own), **AUTH}
    one_url, many_url = await databases.create("ledger"), await databases.create("ledger")
    seen = Seen()
    for url in (one_url, many_url):
        await seed_reviews(url)
    await consume(
        LedgerSettings(
            database_url=SecretStr(one_url), consumer_group=f"{own.prefix}one", **common
        ),
        False,
        len(events),
        Seen(),
    )
    await consume(
        LedgerSettings(
            database_url=SecretStr(many_url), consumer_group=f"{own.prefix}many", **common
        ),
        True,
        len(events),
        seen,
    )
    assert seen.failures == []
    assert seen.events > len(events) // 2  # most in batches (a batch of one goes per event)
    one, many = await store(one_url), await store(many_url)
    assert len(one["ledger_entries"]) == COMPLAINTS
    assert len(one["reviews"]) > COMPLAINTS // 2
    assert len(one["pending timers"]) > COMPLAINTS // 4
    for table in one:
        assert many[table] == one[table], (table, first_difference(one[table], many[table]))
    columns = [c.name for c in entries.c if c.name != "updated_at"]
    rows = [dict(zip(columns, row, strict=True)) for row in many["ledger_entries"]]
    erased = {cid_of(n) for n in range(COMPLAINTS)
              if any(e.type == "customer.erasure_requested" for e in story(n))}  # fmt: skip
    assert erased and {r["complaint_id"] for r in rows if r["erased_as"]} == erased
    assert any(r["satisfaction"] for r in rows) and any(r["breached_clocks"] for r in rows)
    # What both hold is right for a few: a recorded review kept, an overdue clock kept
    # without a timer, a clock stopped by a reopen, one restarted by a second resolution.
    kept = {row[0]: row for row in many["reviews"]}
    armed = {row[1]: row for row in many["pending timers"]}
    names = [c.name for c in reviews.c if c.name != "updated_at"]
    recorded = dict(zip(names, kept[cid_of(15)], strict=True))
    overdue = dict(zip(names, kept[cid_of(5)], strict=True))
    assert recorded["recorded_at"] is not None and review_subject(cid_of(15)) not in armed
    assert overdue["went_overdue_at"] is not None and review_subject(cid_of(5)) not in armed
    stopped = dict(zip(names, kept[cid_of(3)], strict=True))
    assert stopped["report_due_at"] is None and review_subject(cid_of(3)) not in armed
    again = dict(zip(names, kept[cid_of(2)], strict=True))  # reopened and resolved again
    assert again["finished_at"] == AT + timedelta(minutes=2, hours=6)
    assert armed[review_subject(cid_of(2))][2] == again["report_due_at"]
