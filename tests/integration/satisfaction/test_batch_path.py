"""The consumer's set-based path (the app's batch handlers over large batches: facts held and
written once per transaction, answers inserted together, rollups in one statement) leaves
the store exactly as the per-event path (one event per transaction) does: facts, surveys,
answers and every rollup row, over complaints with reopens, breaches, surveys requested,
invited and answered (a second answer of a cycle, an answer before its request, answers by
phone without a survey)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from pydantic import SecretStr

from services.satisfaction.settings import SatisfactionSettings
from services.satisfaction.store.tables import answers, facts, surveys
from services.satisfaction.usecases import LockOrder, batch_handlers, handlers, source_topics
from shared.db import create_engine
from shared.events.common import Channel, ContactCard, SatisfactionLevel, Severity, Tier
from shared.events.envelope import Envelope, new_event
from shared.events.followup import SurveyReason, SurveyRequested
from shared.events.handling import CaseReopened, CaseSlaBreached
from shared.events.notify import SurveyInvited
from shared.events.satisfaction import SurveyRecorded
from shared.events.versions import token_sha256
from shared.runtime import Runtime
from tests.integration.satisfaction.test_satisfaction_store import publish, snapshot
from tests.support.consuming import run_until_processed
from tests.unit.satisfaction import scenario
from tests.unit.satisfaction.scenario import DAY, NEXT_DAY, _complaint, _resolved

COMPLAINTS = 60
LEVELS = list(SatisfactionLevel)


def complaint_events(n: int) -> list[tuple[str, object]]:
    """One complaint's story; ``n`` picks its variations."""
    cid = uuid.uuid5(uuid.NAMESPACE_OID, f"batch-path-{n}")
    channel = list(Channel)[n % len(Channel)]
    severity, tier = (Severity.GENERAL, Severity.MAJOR)[n % 2], list(Tier)[n % 5]
    category = ("billing", "delivery")[n % 2]
    out: list[tuple[str, object]] = [*_complaint(cid, channel, category, severity, tier)]
    if n % 4 == 0:
        out.append(("handling", CaseSlaBreached(
            complaint_id=cid, at=DAY + timedelta(hours=2), clock="acknowledge",
            deadline=DAY + timedelta(hours=2), level="frontline",
        )))  # fmt: skip
    if n % 7 == 6:
        return out  # never resolved
    out.append(_resolved(cid, channel, category, severity, tier, 600 + 97 * n, "frontline",
                         n % 4 != 0))  # fmt: skip
    cycle = 1
    if n % 5 == 0:
        cycle = 2
        out.append(("handling", CaseReopened(
            complaint_id=cid, at=DAY + timedelta(hours=5), round=2, reason="unhappy",
            deadlines={},
        )))  # fmt: skip
        out.append(_resolved(cid, channel, category, severity, tier, 30000 + n, "frontline",
                             True, rnd=2))  # fmt: skip
    survey_id = uuid.uuid5(cid, "survey")
    requested = ("followup", SurveyRequested(
        survey_id=survey_id, complaint_id=cid, callback_id=uuid.uuid5(cid, "cb"), cycle=cycle,
        customer=ContactCard(id=f"cust-{n}", tier=tier), requested_at=NEXT_DAY,
        reason=SurveyReason.SATISFIED,
    ))  # fmt: skip
    invited = ("notify", SurveyInvited(
        survey_id=survey_id, complaint_id=cid, token_sha256=token_sha256(f"tok-{cid}"),
        expires_at=NEXT_DAY + timedelta(days=7), at=NEXT_DAY,
    ))  # fmt: skip

    def answered(level: SatisfactionLevel, by_phone: bool = False, hours: int = 1):
        return ("satisfaction", SurveyRecorded(
            complaint_id=cid, survey_id=None if by_phone else survey_id, cycle=cycle,
            level=level, score=level.score, factors=["speed", "attitude"][: 1 + n % 2],
            comment="ok", taken_by="agent" if by_phone else "customer",
            recorded_at=NEXT_DAY + timedelta(hours=hours), tier=tier,
        ))  # fmt: skip

    level = LEVELS[n % 6]
    if n % 6 == 1:
        return [*out, answered(level, by_phone=True)]  # answered by phone, no survey
    if n % 6 == 2:
        return [*out, answered(level), requested, invited]  # the answer came first
    if n % 6 == 3:  # a second answer of the cycle: never counted
        return [*out, requested, invited, answered(level), answered(LEVELS[0], hours=2)]
    if n % 6 == 4:
        return [*out, requested, invited]  # never answered
    return [*out, requested, invited, answered(level)]


def envelopes() -> list[tuple[str, Envelope]]:
    out = list(scenario.envelopes())
    for n in range(COMPLAINTS):
        for topic, data in complaint_events(n):
            subject = str(data.complaint_id)  # type: ignore[attr-defined]
            out.append((topic, new_event("/t", subject, data)))  # type: ignore[arg-type]
    return out


async def consume(settings: SatisfactionSettings, batched: bool, processed: int) -> None:
    """This database's consumer: the app's batch handlers over batches of up to 500, or the
    per-event handlers one event per transaction; until the inbox holds ``processed``."""
    runtime = Runtime.build(settings)
    ladder = settings.escalation_ladder
    runner = runtime.consumer(
        source_topics(runtime.topics),
        handlers(ladder),
        hooks=LockOrder(),
        batch_handlers=batch_handlers(ladder) if batched else None,
    )
    runner.batch_size = 500 if batched else 1
    await run_until_processed(runtime, runner, processed, parked_allowed=False)


async def store(url: str) -> dict[str, list[tuple]]:
    found = await snapshot(url)
    engine = create_engine(url, 2)
    try:
        async with engine.connect() as conn:
            for table in (facts, surveys, answers):
                rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                found[table.name] = [tuple(r) for r in rows]
    finally:
        await engine.dispose()
    return found


async def test_batch_path_leaves_the_store_as_the_per_event_path(
    settings: SatisfactionSettings, databases, own_topics
) -> None:
    events = envelopes()
    await publish(settings.kafka_bootstrap_servers, own_topics, events)
    # Two groups read the same topics, each into its own database.
    per_event = settings.model_copy(update={"consumer_group": f"{own_topics.prefix}per-event"})
    batched = settings.model_copy(
        update={
            "database_url": SecretStr(await databases.create("satisfaction")),
            "consumer_group": f"{own_topics.prefix}batched",
        }
    )
    await consume(per_event, False, len(events))
    await consume(batched, True, len(events))
    one = await store(per_event.database_url.get_secret_value())
    many = await store(batched.database_url.get_secret_value())
    assert len(one["answers"]) > COMPLAINTS // 2 and one["rollup_factors"]
    for table in one:
        assert many[table] == one[table], table
    # And what both hold is right: the first answer of a cycle kept, its time on the survey;
    # an answer before its request leaves a survey both requested and answered.
    engine = create_engine(batched.database_url.get_secret_value(), 2)
    try:
        async with engine.connect() as conn:
            for n in range(COMPLAINTS):
                cid = uuid.uuid5(uuid.NAMESPACE_OID, f"batch-path-{n}")
                kept = (await conn.execute(
                    sa.select(answers.c.score, answers.c.survey_id)
                    .where(answers.c.complaint_id == cid)
                )).all()  # fmt: skip
                survey = (await conn.execute(
                    sa.select(surveys.c.requested_at, surveys.c.answered_at)
                    .where(surveys.c.complaint_id == cid)
                )).first()  # fmt: skip
                if n % 7 == 6 or n % 6 == 4:
                    assert kept == [], n
                elif n % 6 == 1:
                    assert [k.survey_id for k in kept] == [None], n
                else:
                    assert [k.score for k in kept] == [LEVELS[n % 6].score], n
                    assert survey is not None and survey.requested_at == NEXT_DAY, n
                    assert survey.answered_at == NEXT_DAY + timedelta(hours=1), n
    finally:
        await engine.dispose()
