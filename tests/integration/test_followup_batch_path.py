"""Follow-up's consumer on its set-based path (the batch handler for resolved cases over
batches of up to 500: new call-backs, their timers and their events written with one
statement each, a replaced call-back found by the same insert) leaves the store as the
per-event path (one event per transaction) does: every call-back, every timer and every
event, per complaint in order. Over complaints resolved once, twice (the second round in
the same batch), a resolution delivered twice or published again, complaints that had an
open call-back before, cases suspended or closed, unhappy survey answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import callbacks as cb
from services.followup.app import tasks_for
from services.followup.callbacks import Deps
from services.followup.domain.policy import load_policy
from services.followup.settings import FollowupSettings
from services.followup.store.tables import attempts, callbacks, survey_requests
from shared.db import create_engine
from shared.directory import directory_file, load_directory
from shared.events.common import Channel, ContactCard, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import CallbackKind
from shared.events.handling import CaseClosed, CaseOutcome, CaseResolved, CaseSuspended
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.messaging.consumer import BatchHandler, ConsumerRunner
from shared.runtime import Runtime
from tests.integration.test_ledger_batch_path import Seen, first_difference, watched
from tests.support.consuming import handling_backlog, run_until_processed, service_settings

COMPLAINTS = 90
AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
TIERS = list(Tier)
SEEN_DUE = AT - timedelta(hours=20)  # of a resolution handled before the events
# Call-back columns of wall time or random: left out of the comparison.
VOLATILE = {"id", "created_at", "updated_at", "closed_at"}


def cid_of(n: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_OID, f"followup-batch-path-{n}")


def customer_of(n: int) -> ContactCard:
    return ContactCard(id=f"c-{n % 17}", name="李娜", phone="+86 138 0013 8000",
                       tier=TIERS[n % 5])  # fmt: skip


def resolved(n: int, round: int, at: datetime) -> Envelope:
    cid = cid_of(n)
    data = CaseResolved(
        complaint_id=cid, at=at, by="p-li", round=round, resolution="refunded",
        severity=(Severity.GENERAL, Severity.MAJOR)[n % 2], channel=list(Channel)[n % 5],
        category=("billing", "delivery", "product_quality")[n % 3], customer=customer_of(n),
        tier=TIERS[n % 5], level="frontline", highest_level="frontline",
        clocks_met={"acknowledge": n % 4 != 0},
    )  # fmt: skip
    return new_event("/t", str(cid), data)


def story(n: int) -> list[Envelope]:
    """Complaint ``n``'s events, in order; ``n`` picks the variation."""
    cid, at = cid_of(n), AT + timedelta(minutes=n)
    first = resolved(n, 1, at)
    out = [first]
    if n % 7 == 3:
        out.append(first)  # delivered twice: the inbox drops the copy
    if n % 11 == 4:  # published again under a new id: its origin exists, nothing new
        out.append(new_event("/t", str(cid), CaseResolved.model_validate(first.data)))
    if n % 5 == 1:  # resolved again (in the same batch): the second round's call replaces
        out.append(resolved(n, 2, at + timedelta(hours=3)))
    if n % 9 == 2:  # an unhappy answer: a remedial call beside the resolution's
        level = (SatisfactionLevel.VERY_DISSATISFIED, SatisfactionLevel.NEUTRAL)[n % 2]
        out.append(new_event("/t", str(cid), SurveyRecorded(
            complaint_id=cid, survey_id=uuid.uuid5(cid, "survey"), cycle=1, level=level,
            score=level.score, factors=["speed"], comment="no", taken_by="customer",
            recorded_at=at + timedelta(days=1), tier=TIERS[n % 5],
        )))  # fmt: skip
    if n % 6 == 5:  # to court: nothing open is left
        out.append(new_event("/t", str(cid), CaseSuspended(
            complaint_id=cid, at=at + timedelta(hours=5), by="p-wang",
            reason=CaseOutcome.MOVED_TO_COURT,
        )))  # fmt: skip
    elif n % 6 == 4:  # closed after the call-back: nothing to cancel
        out.append(new_event("/t", str(cid), CaseClosed(
            complaint_id=cid, at=at + timedelta(hours=5), outcome=CaseOutcome.RESOLVED,
        )))  # fmt: skip
    if n % 8 == 6:  # resolved again much later, after the suspension or the survey
        out.append(resolved(n, 3, at + timedelta(days=2)))
    return out


def deps_of(settings: FollowupSettings, topics: Topics) -> Deps:
    return Deps(
        topics=topics,
        policy=load_policy(settings.policy_file),
        directory=load_directory(directory_file(settings.staff_directory_file)),
    )


async def seed(settings: FollowupSettings, topics: Topics) -> None:
    """Open call-backs there were before the events (one in ten complaints), and first
    resolutions handled before under another event id (one in thirteen: its origin exists):
    scheduled as the per-event path schedules, so both databases hold the same."""
    deps = deps_of(settings, topics)
    engine = create_engine(settings.database_url.get_secret_value(), 2)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            for n in range(0, COMPLAINTS, 10):
                await cb.schedule(session, deps, cb.planned(
                    deps, origin=f"seed:{n}", kind=CallbackKind.REMEDIAL,
                    complaint_id=cid_of(n), customer=customer_of(n),
                    due_at=AT - timedelta(days=1), reason="an earlier answer",
                    now=AT - timedelta(days=2), round=1,
                ))  # fmt: skip
            for n in range(7, COMPLAINTS, 13):
                await cb.schedule(session, deps, cb.planned(
                    deps, origin=f"resolved:{cid_of(n)}:1", kind=CallbackKind.RESOLUTION,
                    complaint_id=cid_of(n), customer=customer_of(n), due_at=SEEN_DUE,
                    reason="resolved before", now=AT - timedelta(days=2), round=1,
                ))  # fmt: skip
    finally:
        await engine.dispose()


async def consume(settings: FollowupSettings, batched: bool, processed: int, seen: Seen) -> None:
    """The consumer as the app wires it, with its batch handlers over batches of up to 500
    (watched: a failed batch would be replayed one by one and hide it), or one event per
    transaction; until the inbox holds ``processed``."""
    runtime = Runtime.build(settings)
    deps = deps_of(settings, runtime.topics)
    tasks = tasks_for(deps)(runtime)
    runner = next(t.__self__ for t in tasks if isinstance(t.__self__, ConsumerRunner))
    if batched:
        handlers: dict[str, BatchHandler] = dict(runner.batch_handlers)
        assert handlers, "follow-up's consumer has no batch handler"
        runner.batch_handlers = watched(handlers, seen)
        runner.batch_size = 500
    else:
        runner.batch_size = 1
    await run_until_processed(runtime, runner, processed, parked_allowed=False)


async def store(url: str) -> dict[str, list[tuple]]:
    """Every call-back (named by its origin: ids are random; but the wall times it was
    written and closed at), every timer (by its call-back's origin, pending, fired or
    cancelled), every event per key in order (ids by origin, but the wall time of a
    cancellation), attempts and survey requests."""
    engine = create_engine(url, 2)
    found: dict[str, list[tuple]] = {}
    try:
        async with engine.connect() as conn:
            kept = [c for c in callbacks.c if c.name not in VOLATILE]
            rows = await conn.execute(sa.select(*kept).order_by(callbacks.c.origin))
            found["callbacks"] = [tuple(r) for r in rows]
            origin = {str(i): o for i, o in await conn.execute(
                sa.select(callbacks.c.id, callbacks.c.origin))}  # fmt: skip
            rows = await conn.execute(sa.text(
                "SELECT kind, subject, due_at, payload, fired_at IS NOT NULL, "
                "cancelled_at IS NOT NULL FROM timers"
            ))  # fmt: skip
            found["timers"] = sorted(
                (k, origin.get(s, "no call-back"), *rest) for k, s, *rest in rows
            )
            rows = await conn.execute(sa.text(
                "SELECT key, event_type, payload::text FROM outbox ORDER BY id"
            ))  # fmt: skip
            per_key: dict[str, list[tuple[str, str]]] = {}
            for key, kind, payload in rows:
                data = orjson.loads(payload)["data"]
                data["callback_id"] = origin.get(data["callback_id"], "no call-back")
                if kind == "followup.cancelled":
                    data.pop("at")
                told = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
                per_key.setdefault(key, []).append((kind, told))
            found["events"] = sorted((k, cancellations_sorted(v)) for k, v in per_key.items())
            for table in (attempts, survey_requests):
                found[table.name] = [tuple(r) for r in await conn.execute(sa.select(table))]
            found["inbox"] = [(await conn.scalar(sa.text("SELECT count(*) FROM inbox")),)]
    finally:
        await engine.dispose()
    return found


def cancellations_sorted(events: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """A key's events with each run of cancellations sorted: the call-backs one cause
    cancels together go in no particular order, in either path."""
    out: list[tuple[str, str]] = []
    run: list[tuple[str, str]] = []
    for event in [*events, ("", "")]:
        if event[0] == "followup.cancelled":
            run.append(event)
            continue
        out += sorted(run)
        run = []
        out.append(event)
    return tuple(out[:-1])


async def test_batch_path_leaves_the_store_as_the_per_event_path(
    servers, topics, databases
) -> None:
    # Every event on one topic (follow-up dispatches on the type, not the topic).
    events = [e for n in range(COMPLAINTS) for e in story(n)]
    own = await handling_backlog(servers, topics, "followup-batch", events)
    distinct = len({e.id for e in events})
    common = service_settings(servers, own)
    one_url, many_url = await databases.create("followup"), await databases.create("followup")
    one = FollowupSettings(
        database_url=SecretStr(one_url), consumer_group=f"{own.prefix}one", **common
    )
    many = FollowupSettings(
        database_url=SecretStr(many_url), consumer_group=f"{own.prefix}many", **common
    )
    for settings in (one, many):
        await seed(settings, own)
    seen = Seen()
    await consume(one, False, distinct, seen)
    await consume(many, True, distinct, seen)
    assert not seen.failures, seen.failures
    # The batch handler took most resolutions (not a replay one by one).
    assert seen.events > COMPLAINTS // 2, seen.events

    by_one, by_many = await store(one_url), await store(many_url)
    for table in by_one:
        difference = first_difference(by_one[table], by_many[table])
        assert by_many[table] == by_one[table], (table, difference)

    # And what both hold is right: the seeded call-backs replaced, one open call per
    # complaint (and the remedial one beside it) but those gone to court, until a later
    # resolution; a copy or a repeat of a resolution schedules nothing.
    names = [c.name for c in callbacks.c if c.name not in VOLATILE]
    states = {row[names.index("origin")]: row[names.index("state")] for row in by_one["callbacks"]}
    for n in range(COMPLAINTS):
        cid = cid_of(n)
        mine = {o: s for o, s in states.items() if str(cid) in o or o == f"seed:{n}"}
        open_ = [o for o, s in mine.items() if s in ("scheduled", "due", "overdue")]
        if n % 8 == 6:
            expected = 1
        elif n % 6 == 5:
            expected = 0
        else:
            expected = 1 + (n % 9 == 2)
        if n % 13 == 7:  # the resolution handled before stays as it was: nothing new
            first = [
                r for r in by_one["callbacks"] if r[names.index("origin")] == f"resolved:{cid}:1"
            ]
            assert [r[names.index("due_at")] for r in first] == [SEEN_DUE], (n, mine)
        else:
            assert len(open_) == expected, (n, mine)
        if n % 10 == 0 and n % 13 != 7:  # replaced by the first resolution
            assert mine[f"seed:{n}"] == "cancelled", (n, mine)
        rounds = {1} | ({2} if n % 5 == 1 else set()) | ({3} if n % 8 == 6 else set())
        resolutions = {o for o in mine if o.startswith("resolved:")}
        assert resolutions == {f"resolved:{cid}:{r}" for r in rounds}, (n, mine)
