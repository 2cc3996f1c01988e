"""Queries over satisfaction's per-complaint tables. Functions take the caller's session:
the caller owns the transaction, so facts, rollup increments and outbox events commit
together."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import fields
from operator import attrgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.satisfaction.domain.contribution import Answer, Survey
from services.satisfaction.domain.facts import Facts
from services.satisfaction.domain.surveys import FirstAnswer, SurveyRecord
from services.satisfaction.store.arrays import columns_of, pg_type, unnest
from services.satisfaction.store.tables import answers, facts, surveys

_FACT_FIELDS = [c.name for c in facts.columns if c.name not in {"complaint_id", "breached"}]


# An upsert that touches each row takes its lock and returns it: one round trip, the rows
# in the order of the ids.
_LOCK_MANY = sa.text(
    "INSERT INTO facts (complaint_id) SELECT unnest(CAST(:ids AS uuid[])) "
    "ON CONFLICT (complaint_id) DO UPDATE SET complaint_id = excluded.complaint_id "
    "RETURNING *"
).columns(*facts.columns)


async def lock_facts_many(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> list[Facts]:
    """The complaints' facts (rows created if new), each row locked until commit: one writer
    per complaint at a time (consumer and API, across replicas), so no increment is lost or
    doubled. Sorted by the caller (the lock order); one statement for any number of them."""
    if not complaint_ids:
        return []
    rows = await session.execute(_LOCK_MANY, {"ids": complaint_ids})
    return [_facts(r) for r in rows]


# Many complaints' facts saved with one UPDATE joined to the rows' arrays (the rows are
# locked already: the join's order does not matter). ``breached`` goes as JSON text.
_SAVED = ["complaint_id", *_FACT_FIELDS, "breached"]
_SAVED_VALUES = attrgetter(*_FACT_FIELDS)
SAVE_FACTS = (
    f"UPDATE facts SET {', '.join(f'{n} = v.{n}' for n in _SAVED[1:-1])}, "
    "breached = CAST(v.breached AS jsonb) "
    f"FROM {unnest([(n, pg_type(facts.c[n]) if n != 'breached' else 'text') for n in _SAVED])} "
    f"AS v({', '.join(_SAVED)}) WHERE facts.complaint_id = v.complaint_id"
)
_SAVE_MANY = sa.text(SAVE_FACTS)


def saved_facts(found: list[Facts]) -> dict[str, list[Any]]:
    """The parameters of ``SAVE_FACTS`` saving ``found``."""
    rows = (
        (f.complaint_id, *_SAVED_VALUES(f), json.dumps(sorted(f.breached)) if f.breached else "[]")
        for f in found
    )
    return columns_of(rows, _SAVED)


async def save_facts_many(session: AsyncSession, found: list[Facts]) -> None:
    """Save many complaints' facts: one statement."""
    if found:
        await session.execute(_SAVE_MANY, saved_facts(found))


async def complaint_known(session: AsyncSession, complaint_id: uuid.UUID) -> bool:
    found = await session.scalar(
        sa.select(sa.literal(1)).where(
            sa.or_(
                sa.exists().where(facts.c.complaint_id == complaint_id),
                sa.exists().where(surveys.c.complaint_id == complaint_id),
            )
        )
    )
    return found is not None


# The requested surveys and the counted answers of many complaints in one round trip: one
# row shape for both (``survey`` tells them apart), the same SQL for any number of ids.
_SURVEYS_AND_ANSWERS = sa.text(
    "SELECT complaint_id, true AS survey, survey_id AS id, requested_at AS at, "
    "answered_at IS NOT NULL AS answered, NULL::smallint AS score, NULL::jsonb AS factors, "
    "NULL::text AS tier FROM surveys "
    "WHERE complaint_id = ANY(CAST(:ids AS uuid[])) AND requested_at IS NOT NULL "
    "UNION ALL "
    "SELECT complaint_id, false, answer_id, recorded_at, NULL, score, factors, tier FROM answers "
    "WHERE complaint_id = ANY(CAST(:ids AS uuid[])) AND cycle IS NOT NULL"
)


async def surveys_and_answers_of_many(
    session: AsyncSession, complaint_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[Survey]], dict[uuid.UUID, list[Answer]]]:
    """The requested surveys of each complaint (those only invited or answered so far wait
    for their request to count) and its counted answers (one per resolution cycle)."""
    found_surveys: dict[uuid.UUID, list[Survey]] = defaultdict(list)
    found_answers: dict[uuid.UUID, list[Answer]] = defaultdict(list)
    if not complaint_ids:
        return found_surveys, found_answers
    rows = await session.execute(_SURVEYS_AND_ANSWERS, {"ids": complaint_ids})
    for cid, survey, id_, at, answered, score, factors, tier in rows:
        if survey:
            found_surveys[cid].append(Survey(str(id_), at, answered))
        else:
            found_answers[cid].append(Answer(str(id_), score, tuple(factors), at, tier))
    return found_surveys, found_answers


async def facts_of_many(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> list[Facts]:
    rows = await session.execute(sa.select(facts).where(facts.c.complaint_id.in_(complaint_ids)))
    return [_facts(r) for r in rows]


_COLUMNS = [c.name for c in facts.columns]
if sorted(_COLUMNS) != sorted(f.name for f in fields(Facts)):
    raise RuntimeError("the facts table and Facts name different fields")


def _facts(row: Any) -> Facts:
    """A facts row (every column, in the table's order) as Facts: its fields set directly,
    without ``__init__`` (five times cheaper; every field is a column, checked above)."""
    found = Facts.__new__(Facts)
    found.__dict__.update(zip(_COLUMNS, row, strict=True))
    found.breached = set(found.breached)
    return found


async def complaint_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every complaint the store knows anything about, in order."""
    union = sa.union(
        sa.select(facts.c.complaint_id),
        sa.select(surveys.c.complaint_id),
        sa.select(answers.c.complaint_id),
    ).subquery()
    rows = await session.execute(sa.select(union.c.complaint_id).order_by(union.c.complaint_id))
    return list(rows.scalars())


def record_of(row: dict[str, Any]) -> SurveyRecord:
    return SurveyRecord(
        survey_id=row["survey_id"],
        complaint_id=row["complaint_id"],
        cycle=row["cycle"],
        requested_at=row["requested_at"],
        expires_at=row["expires_at"],
        answered_at=row["answered_at"],
    )


async def get_survey(session: AsyncSession, survey_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(surveys).where(surveys.c.survey_id == survey_id))
    ).first()
    return dict(row._mapping) if row else None


async def survey_by_hash(session: AsyncSession, token_hash: str) -> dict[str, Any] | None:
    """The survey whose invitation carried the token with this hash (a unique index)."""
    row = (
        await session.execute(sa.select(surveys).where(surveys.c.token_sha256 == token_hash))
    ).first()
    return dict(row._mapping) if row else None


async def open_survey_of(session: AsyncSession, complaint_id: uuid.UUID) -> dict[str, Any] | None:
    """The complaint's unanswered survey of the latest cycle, if any."""
    row = (
        await session.execute(
            sa.select(surveys)
            .where(
                surveys.c.complaint_id == complaint_id,
                surveys.c.answered_at.is_(None),
                surveys.c.requested_at.is_not(None),
            )
            .order_by(surveys.c.cycle.desc().nulls_last(), surveys.c.requested_at.desc())
            .limit(1)
        )
    ).first()
    return dict(row._mapping) if row else None


async def first_answer(
    session: AsyncSession, complaint_id: uuid.UUID, cycle: int | None, survey_id: uuid.UUID | None
) -> FirstAnswer | None:
    """The answer that already measures ``cycle`` of the complaint, or answered the survey."""
    which = []
    if cycle is not None:
        which.append(answers.c.cycle == cycle)
    if survey_id is not None:
        which.append(answers.c.survey_id == survey_id)
    if not which:
        return None
    row = (
        await session.execute(
            sa.select(answers.c.answer_id, answers.c.cycle, answers.c.recorded_at,
                      answers.c.survey_id)
            .where(answers.c.complaint_id == complaint_id, sa.or_(*which))
            .order_by(answers.c.cycle.is_(None), answers.c.recorded_at)
            .limit(1)
        )
    ).first()  # fmt: skip
    if row is None:
        return None
    return FirstAnswer(row.answer_id, row.cycle or 0, row.recorded_at, row.survey_id)


async def upsert_requested_survey(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Returns whether the survey is already answered (its answer came first). A version-1
    request brings its token's hash too, kept only while no invitation gave one (the
    invitation's token is the one in the customer's link)."""
    stmt = insert(surveys).values(**values)
    filled = [n for n in ("requested_at", "callback_id", "customer_id", "tier", "cycle")
              if n in values]  # fmt: skip
    changes = {n: sa.func.coalesce(stmt.excluded[n], surveys.c[n]) for n in filled}
    if "token_sha256" in values:
        changes["token_sha256"] = sa.func.coalesce(
            surveys.c.token_sha256, stmt.excluded.token_sha256
        )
    answered_at = await session.scalar(
        stmt.on_conflict_do_update(index_elements=[surveys.c.survey_id], set_=changes).returning(
            surveys.c.answered_at
        )
    )
    return answered_at is not None


async def upsert_invited_survey(session: AsyncSession, values: dict[str, Any]) -> None:
    """The invitation: the token's hash and its expiry (it may come before the request)."""
    stmt = insert(surveys).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[surveys.c.survey_id],
            set_={
                "token_sha256": stmt.excluded.token_sha256,
                "invited_at": stmt.excluded.invited_at,
                "expires_at": stmt.excluded.expires_at,
            },
        )
    )


# ---- in bulk: one statement (or one executemany) per batch -------------------

_REQUESTED_FIELDS = ("requested_at", "callback_id", "customer_id", "tier", "cycle")
_REQUESTED = insert(surveys)
_UPSERT_REQUESTED = _REQUESTED.on_conflict_do_update(
    index_elements=[surveys.c.survey_id],
    set_={n: sa.func.coalesce(_REQUESTED.excluded[n], surveys.c[n]) for n in _REQUESTED_FIELDS},
)
_INVITED = insert(surveys)
_UPSERT_INVITED = _INVITED.on_conflict_do_update(
    index_elements=[surveys.c.survey_id],
    set_={n: _INVITED.excluded[n] for n in ("token_sha256", "invited_at", "expires_at")},
)
# Arrays in, one statement each, in order: the first answer of a cycle is the one kept
# (ON CONFLICT DO NOTHING skips a row that conflicts with one inserted earlier by the same
# statement too). Factors go as JSON text.
_ANSWER_FIELDS = [c.name for c in answers.columns]
_ANSWER_ARRAYS = unnest(
    [(n, "text" if n == "factors" else pg_type(answers.c[n])) for n in _ANSWER_FIELDS]
)
# Answers inserted in the order given (ON CONFLICT DO NOTHING also skips a row conflicting
# with one the same statement inserted earlier: the first of a cycle wins), and the survey
# of each kept answer marked answered with the first such answer's time (one row per survey:
# an upsert touches a row once), in one statement.
_INSERT_ANSWERS = sa.text(
    f"WITH v AS (SELECT * FROM {_ANSWER_ARRAYS} WITH ORDINALITY "
    f"AS v({', '.join(_ANSWER_FIELDS)}, n)), "
    f"kept AS (INSERT INTO answers ({', '.join(_ANSWER_FIELDS)}) SELECT "
    + ", ".join("CAST(factors AS jsonb)" if n == "factors" else n for n in _ANSWER_FIELDS)
    + " FROM v ORDER BY n ON CONFLICT DO NOTHING RETURNING answer_id), "
    "marked AS (INSERT INTO surveys (survey_id, complaint_id, answered_at) "
    "SELECT DISTINCT ON (v.survey_id) v.survey_id, v.complaint_id, v.recorded_at "
    "FROM v JOIN kept USING (answer_id) WHERE v.survey_id IS NOT NULL "
    "ORDER BY v.survey_id, v.n "
    "ON CONFLICT (survey_id) DO UPDATE SET "
    "answered_at = coalesce(surveys.answered_at, excluded.answered_at)) "
    "SELECT answer_id FROM kept"
)
_INSERT_FACTS = insert(facts)


async def upsert_requested_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """``upsert_requested_survey`` (version 2 requests: no token) for many, in order."""
    if rows:
        await session.execute(_UPSERT_REQUESTED, rows)


async def upsert_invited_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_UPSERT_INVITED, rows)


async def insert_answers_many(session: AsyncSession, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert answers, in order, unless known already or their complaint's cycle has one (the
    unique constraint (complaint_id, cycle) decides, whoever asks: the first of a cycle
    wins), and mark the surveys of the answers kept answered (idempotent: an answer met
    before its request, a rebuild reading topics in another order, leaves a row the request
    fills in later). One statement. Returns the ids of the answers kept."""
    if not rows:
        return set()
    values = (
        tuple(json.dumps(r[n]) if n == "factors" else r[n] for n in _ANSWER_FIELDS) for r in rows
    )
    result = await session.execute(_INSERT_ANSWERS, columns_of(values, _ANSWER_FIELDS))
    return set(result.scalars())


async def insert_facts_many(session: AsyncSession, found: list[Facts]) -> None:
    """New facts rows (the rebuild writes each complaint's once, after folding them all)."""
    if not found:
        return
    rows = []
    for f in found:
        values = {name: getattr(f, name) for name in _FACT_FIELDS}
        rows.append(values | {"complaint_id": f.complaint_id, "breached": sorted(f.breached)})
    await session.execute(_INSERT_FACTS, rows)
