"""Rebuild the store from the topics: empty the facts, the rollups and the inbox, then read
intake, handling, follow-up, notify and satisfaction topics from their beginning up to their
end as of now, applying every event with the same changes as the live consumer, batched per
complaint and per transaction; then sum the rollups again from the store. The folds are
order-independent, so the figures equal those of the live store.

Answers and surveys are records, not derived: the topics keep a week, the store keeps them
for good. A rebuild keeps them (events read again find them known) and counts them again.

    python -m services.satisfaction rebuild     # with the service stopped
    python -m services.satisfaction rederive    # the rollups only, from the store

Alert state is kept: alerts already raised are not raised again."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Protocol

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction import erasure, retention_calls, usecases
from services.satisfaction.domain.contribution import merge
from services.satisfaction.domain.facts import FACT_EVENTS, Facts, fold
from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store import repository as repo
from services.satisfaction.store import rollups
from services.satisfaction.store.tables import DERIVED
from shared.db import create_engine, session_factory
from shared.events.envelope import Envelope
from shared.events.followup import FollowupScheduled, SurveyRequested
from shared.events.notify import SurveyInvited
from shared.events.privacy import CustomerErasureRequested
from shared.events.satisfaction import SurveyRecorded
from shared.events.topics import Topics
from shared.events.versions import is_v1, read

log = logging.getLogger(__name__)


CHUNK = 5000  # records per transaction: fewer, larger set-based statements


async def rebuild(settings: SatisfactionSettings, progress: Progress | None = None) -> int:
    """Returns how many events were applied. ``progress`` hears of every chunk read (the
    command line draws a bar with it)."""
    engine = create_engine(settings.database_url.get_secret_value(), 4)
    sessions = session_factory(engine)
    ladder = settings.escalation_ladder
    t = Topics(settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    applied = 0
    erasures = []  # applied after everything: an answer may be read after its erasure
    try:
        async with engine.begin() as conn:
            names = ", ".join([table.name for table in DERIVED] + ["inbox"])
            await conn.execute(sa.text(f"TRUNCATE {names}"))
        await consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in usecases.source_topics(t)
            for p in sorted(await _partitions(settings.kafka_bootstrap_servers, topic))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions) if partitions else {}
        if progress is not None:
            progress.start(sum(ends[tp] - starts[tp] for tp in partitions))
        if partitions:
            await consumer.seek_to_beginning(*partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        folded = Folded(ladder)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=CHUNK)
            events = [
                (record.topic, record.value)
                for tp, records in batches.items()
                for record in records
                if record.offset < ends[tp]
            ]
            async with sessions.begin() as session:
                applied += await folded.add(session, events)
            erasures += erasure.requests_in(
                [(t, v) for t, v in events if v is not None and _ERASURE in v]
            )
            if progress is not None:
                progress.advance(len(events))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        async with sessions.begin() as session:
            applied += await folded.finish(session)
        async with sessions.begin() as session:
            await erasure.apply_all(session, erasures)
            await usecases.rederive_rollups(session, batch=CHUNK)
    finally:
        await consumer.stop()
        await engine.dispose()
    return applied


_ERASURE = CustomerErasureRequested.event_type.encode()


class Folded:
    """The rebuild's set-based path. Lifecycle events are folded in memory, every
    complaint's facts written once at the end (the folds are order-independent); the
    surveys and answers of each batch are written with one executemany per kind, in order
    (the first answer of a cycle wins, as live). Each batch's ids are claimed in the inbox
    in one statement. What this path does not cover (version-1 survey events, which need
    the store as it is at that point) goes through the live consumer's changes at the
    end, complaint by complaint."""

    def __init__(self, ladder: list[str]) -> None:
        self.ladder = ladder
        self.facts: dict[uuid.UUID, Facts] = {}
        self.later: list[Envelope] = []

    async def add(self, session: AsyncSession, records: list[tuple[str, bytes | None]]) -> int:
        found: dict[uuid.UUID, tuple[str, str, dict]] = {}
        for topic, value in records:
            try:
                raw = orjson.loads(value or b"")
                kind = raw["type"]
                if kind in usecases.HANDLED or kind in retention_calls.EVENTS:
                    found.setdefault(uuid.UUID(raw["id"]), (topic, kind, raw))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # not a CloudEvent: the live consumer parked it
        if not found:
            return 0
        claimed = set(
            (
                await session.execute(
                    _CLAIM,
                    {
                        "ids": list(found),
                        "topics": [t for t, _, _ in found.values()],
                        "types": [k for _, k, _ in found.values()],
                    },
                )
            ).scalars()
        )
        requested, invited, answered = [], [], []
        applied = 0
        for event_id, (_, kind, raw) in found.items():
            if event_id not in claimed:
                continue
            if kind in retention_calls.EVENTS:
                applied += await _retention(session, raw)
                continue
            try:
                data = raw["data"]
                cid = uuid.UUID(str(data["complaint_id"]))
                facts = self.facts.get(cid)
                if facts is None:
                    facts = self.facts[cid] = Facts(cid)
                if kind in FACT_EVENTS:
                    # Folded into a copy: a malformed event leaves the facts as they were.
                    trial = replace(facts, breached=set(facts.breached))
                    fold(trial, kind, data, self.ladder)
                    self.facts[cid] = trial
                elif is_v1(kind, data):
                    self.later.append(Envelope.model_validate(raw))
                    continue
                elif kind == SurveyRequested.event_type:
                    requested.append(_requested_row(read(SurveyRequested, data)))
                elif kind == SurveyInvited.event_type:
                    invited.append(_invited_row(read(SurveyInvited, data)))
                else:
                    answer = read(SurveyRecorded, data)
                    if answer.cycle is None:  # its cycle is decided by the store as it is
                        self.later.append(Envelope.model_validate(raw))
                        continue
                    answered.append(_answer_row(event_id, answer))
            except Exception:
                log.warning("rebuild: event skipped", extra={"event_id": str(event_id)})
                continue
            applied += 1
        await repo.upsert_requested_many(session, requested)
        await repo.upsert_invited_many(session, invited)
        await repo.insert_answers_many(session, answered)
        return applied

    async def finish(self, session: AsyncSession) -> int:
        """Write the facts; apply the events left for the end. Returns how many of those."""
        found = sorted(self.facts.values(), key=lambda f: f.complaint_id)
        for i in range(0, len(found), CHUNK):
            await repo.insert_facts_many(session, found[i : i + CHUNK])
        applied = 0
        for event in self.later:
            try:
                async with session.begin_nested():
                    await usecases.change_complaint(
                        session,
                        usecases.complaint_of(event),
                        [usecases.change_for(session, event, self.ladder)],
                        roll_up=False,
                    )
                applied += 1
            except Exception:
                log.exception("rebuild: event skipped", extra={"event_id": str(event.id)})
        return applied


async def _retention(session: AsyncSession, raw: dict) -> int:
    """A follow-up event for the retention calls (call-backs, not complaints: no facts), as
    the live consumer applies it; 1 when applied."""
    if raw["type"] == FollowupScheduled.event_type and raw["data"].get("kind") != "retention":
        return 1  # another kind of call-back: nothing to note
    try:
        event = Envelope.model_validate(raw)
        async with session.begin_nested():
            await retention_calls.apply(session, event)
        return 1
    except Exception:
        log.exception("rebuild: event skipped", extra={"event_id": str(raw.get("id"))})
        return 0


_CLAIM = sa.text(
    "INSERT INTO inbox (event_id, topic, event_type) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
    "CAST(:types AS text[])) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


def _requested_row(new: SurveyRequested) -> dict:
    return {
        "survey_id": new.survey_id, "callback_id": new.callback_id, "cycle": new.cycle,
        "complaint_id": new.complaint_id, "customer_id": new.customer.id,
        "tier": new.customer.tier.value, "requested_at": new.requested_at,
    }  # fmt: skip


def _invited_row(invited: SurveyInvited) -> dict:
    return {
        "survey_id": invited.survey_id, "complaint_id": invited.complaint_id,
        "token_sha256": invited.token_sha256.lower(), "invited_at": invited.at,
        "expires_at": invited.expires_at,
    }  # fmt: skip


def _answer_row(answer_id: uuid.UUID, new: SurveyRecorded) -> dict:
    return {
        "answer_id": answer_id, "complaint_id": new.complaint_id, "survey_id": new.survey_id,
        "cycle": new.cycle, "score": new.score, "factors": new.factors, "comment": new.comment,
        "taken_by": new.taken_by, "customer_id": new.customer_id,
        "tier": new.tier.value if new.tier else None, "recorded_at": new.recorded_at,
    }  # fmt: skip


async def _partitions(bootstrap: str, topic: str) -> set[int]:
    # The producer's metadata lookup is the public way to learn a topic's partitions.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        return await producer.partitions_for(topic)
    finally:
        await producer.stop()


async def apply_batch(
    session: AsyncSession,
    records: list[tuple[str, bytes | None]],
    ladder: list[str],
    roll_up: bool = True,
) -> int:
    """Apply a batch in one transaction: inbox claims in one statement, each complaint's
    events folded together (the folds are order-independent), the rollup increments of the
    whole batch summed and written once (unless the caller sums the rollups afterwards).
    Returns how many events were applied."""
    events: dict[uuid.UUID, tuple[str, Envelope]] = {}
    for topic, value in records:
        try:
            event = Envelope.from_bytes(value or b"")
        except ValidationError:
            continue
        if event.type in usecases.HANDLED or event.type in retention_calls.EVENTS:
            events.setdefault(event.id, (topic, event))
    if not events:
        return 0
    claimed = set(
        (
            await session.execute(
                sa.text(
                    "INSERT INTO inbox (event_id, topic, event_type) "
                    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:topics AS text[]), "
                    "CAST(:types AS text[])) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
                ),
                {
                    "ids": [str(i) for i in events],
                    "topics": [t for t, _ in events.values()],
                    "types": [e.type for _, e in events.values()],
                },
            )
        ).scalars()
    )
    by_complaint: dict[uuid.UUID, list[Envelope]] = defaultdict(list)
    applied = 0
    for event_id, (_, event) in events.items():
        if event_id in claimed and event.type in retention_calls.EVENTS:
            # Call-backs, not complaints (a retention call has none): no facts to lock.
            try:
                async with session.begin_nested():
                    await retention_calls.apply(session, event)
                applied += 1
            except Exception:
                log.exception("rebuild: event skipped", extra={"event_id": str(event_id)})
        elif event_id in claimed:
            try:
                by_complaint[usecases.complaint_of(event)].append(event)
            except (KeyError, ValueError):
                log.warning("rebuild: event without a complaint id", extra={"id": str(event_id)})
    try:
        # Set-based: every complaint of the batch changed together.
        async with session.begin_nested():
            changes = await usecases.change_complaints(
                session,
                {cid: [usecases.change_for(session, e, ladder) for e in group]
                 for cid, group in by_complaint.items()},
                roll_up,
            )  # fmt: skip
        await rollups.apply(session, merge(changes))
        return applied + sum(len(group) for group in by_complaint.values())
    except Exception:
        log.warning("rebuild: a batch failed together, applying it complaint by complaint")
    changes = []
    for complaint_id, group in sorted(by_complaint.items()):
        try:
            async with session.begin_nested():
                changes.append(
                    await usecases.change_complaint(
                        session,
                        complaint_id,
                        [usecases.change_for(session, e, ladder) for e in group],
                        roll_up,
                    )
                )
            applied += len(group)
        except Exception:
            # One bad event must not cost its neighbours: retry them one by one; the live
            # consumer would have dead-lettered the bad one, so it is skipped here.
            for event in group:
                try:
                    async with session.begin_nested():
                        changes.append(
                            await usecases.change_complaint(
                                session,
                                complaint_id,
                                [usecases.change_for(session, event, ladder)],
                                roll_up,
                            )
                        )
                    applied += 1
                except Exception:
                    log.exception("rebuild: event skipped", extra={"event_id": str(event.id)})
    await rollups.apply(session, merge(changes))
    return applied


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, events: int) -> None: ...


class Bar:
    """A rich progress bar: events read of the topics' total, events/s, time left."""

    def __init__(self) -> None:
        self.bar = RichProgress(
            TextColumn("rebuilding"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task: TaskID | None = None

    def start(self, total: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task("rebuild", total=total, rate="-")

    def advance(self, events: int) -> None:
        if self.task is None:
            return
        self.bar.advance(self.task, events)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, rate=f"{speed:,.0f}" if speed else "-")

    def stop(self) -> None:
        self.bar.stop()


def main(settings: SatisfactionSettings) -> None:
    """``python -m services.satisfaction rebuild`` (the entry point has run the migrations)."""
    started = time.monotonic()
    bar = Bar()
    try:
        applied = asyncio.run(rebuild(settings, bar))
    finally:
        bar.stop()
    log.info(
        "store rebuilt from the topics",
        extra={"events": applied, "seconds": round(time.monotonic() - started, 1)},
    )
    seconds = time.monotonic() - started
    print(f"rebuilt: {applied} events applied in {seconds:.1f}s ({applied / seconds:,.0f}/s)")


async def rederive(settings: SatisfactionSettings) -> int:
    engine = create_engine(settings.database_url.get_secret_value(), 1)
    try:
        async with session_factory(engine).begin() as session:
            return await usecases.rederive_rollups(session)
    finally:
        await engine.dispose()


def rederive_main(settings: SatisfactionSettings) -> None:
    """``python -m services.satisfaction rederive``: the rollups summed again from the store
    (after an upgrade that counts something new; safe while the service runs)."""
    started = time.monotonic()
    complaints = asyncio.run(rederive(settings))
    print(f"rederived: {complaints} complaints summed in {time.monotonic() - started:.1f}s")
