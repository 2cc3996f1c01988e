"""The migrations that take the clear survey tokens out of follow-up and satisfaction, run
on databases holding what the old version wrote: every token hashed or gone, surveys named
by the id every reader derives, and answers given their resolution cycles (a second answer
of a cycle kept but no longer counted)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.satisfaction.rebuild import rederive
from services.satisfaction.settings import SatisfactionSettings
from shared.db import create_engine
from shared.events.versions import legacy_survey_id, token_sha256
from shared.migrations import upgrade
from tests.support.databases import migrations_of

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
X, Y = uuid.UUID(int=0x51), uuid.UUID(int=0x52)
CB = uuid.UUID(int=0xCB)


async def run(url: str, *statements: tuple[str, dict]) -> list[list[tuple]]:
    engine = create_engine(url, 1)
    out = []
    try:
        async with engine.begin() as conn:
            for sql, params in statements:
                result = await conn.execute(sa.text(sql), params)
                out.append([tuple(r) for r in result] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return out


async def test_satisfaction_forgets_the_tokens_and_counts_one_answer_per_cycle(
    databases, servers
) -> None:
    url = await databases.create("satisfaction", migrate=False)
    migrations = migrations_of("satisfaction")
    await asyncio.to_thread(upgrade, migrations, url, "0002")
    answer = (
        "INSERT INTO answers (answer_id, complaint_id, survey_token, score, factors, taken_by, "
        "recorded_at) VALUES (:id, :c, :t, :s, '[]', 'agent', :at)"
    )
    await run(
        url,
        # X was reopened once (two cycles); Y never was.
        ("INSERT INTO facts (complaint_id, case_reopens, max_round) VALUES (:c, 1, 2)", {"c": X}),
        ("INSERT INTO facts (complaint_id) VALUES (:c)", {"c": Y}),
        # X's survey came with its call-back; Y's only with an answer (a rebuild's order).
        *(
            ("INSERT INTO surveys (token, complaint_id, callback_id, requested_at) "
             "VALUES (:t, :c, :cb, :at)", {"t": t, "c": c, "cb": cb, "at": T0})
            for t, c, cb in (("tok-x", X, CB), ("tok-y", Y, None))
        ),
        *(
            (answer, {"id": uuid.UUID(int=n), "c": c, "t": t, "s": s,
                      "at": T0 + timedelta(hours=n)})
            for n, c, t, s in (
                (1, X, "tok-x", 6), (2, X, None, 5), (3, X, None, 1),  # cycles 1, 2, beyond
                (4, Y, "tok-y", 2), (5, Y, None, 2), (6, Y, None, 2),  # an agent's repeats
            )
        ),
    )  # fmt: skip
    await asyncio.to_thread(upgrade, migrations, url, "head")
    surveys, answers, columns = await run(
        url,
        ("SELECT survey_id, token_sha256, complaint_id FROM surveys ORDER BY complaint_id", {}),
        ("SELECT answer_id, survey_id, cycle FROM answers ORDER BY answer_id", {}),
        (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_name IN ('surveys', 'answers')",
            {},
        ),
    )
    # A version-1 survey is named by its call-back (as every reader names it), one known by
    # its token alone by the token's hash.
    assert surveys == [
        (CB, token_sha256("tok-x"), X),
        (legacy_survey_id(token_sha256("tok-y")), token_sha256("tok-y"), Y),
    ]
    assert {(t, c) for t, c in columns} >= {("surveys", "token_sha256"), ("answers", "cycle")}
    assert not {c for _, c in columns} & {"token", "survey_token"}
    ids = {n: uuid.UUID(int=n) for n in range(1, 7)}
    assert answers == [
        (ids[1], CB, 1),
        (ids[2], None, 2),
        (ids[3], None, None),
        (ids[4], legacy_survey_id(token_sha256("tok-y")), 1),
        (ids[5], None, None),
        (ids[6], None, None),
    ]
    # The rollups, summed again from the store, count one answer per cycle: 6, 5 and 2.
    settings = SatisfactionSettings(
        database_url=url, kafka_bootstrap_servers=servers.kafka_bootstrap
    )
    assert await rederive(settings) == 2
    (levels,) = await run(
        url,
        ("SELECT sum(l6), sum(l5), sum(l2), sum(l1) FROM rollup_daily WHERE dimension = 'all'", {}),
    )
    assert levels == [(1, 1, 1, 0)]


async def test_followup_keeps_no_token_in_its_surveys_origins_or_outbox(databases) -> None:
    url = await databases.create("followup", migrate=False)
    migrations = migrations_of("followup")
    await asyncio.to_thread(upgrade, migrations, url, "0002")
    cb1, cb2, cb3 = (uuid.UUID(int=n) for n in (0xC1, 0xC2, 0xC3))
    callback = (
        "INSERT INTO callbacks (id, kind, origin, complaint_id, customer, tier, tier_rank, round, "
        "reason, state, due_at, overdue_at, max_attempts, policy_version, created_at, "
        "updated_at) VALUES (:id, :kind, :origin, :c, '{}', 'C', 3, 1, 'r', 'completed', :at, "
        ":at, 3, 'v', :at, :at)"
    )
    answer_event = str(uuid.uuid4())
    v1 = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/followup",
        "type": "survey.requested", "subject": str(X),
        "dataschema": "urn:complaint-platform:schema:survey.requested:v1",
        "data": {"complaint_id": str(X), "callback_id": str(cb2), "survey_token": "tok-x2",
                 "customer": {"tier": "C"}, "requested_at": T0.isoformat(),
                 "reason": "satisfied"},
    }  # fmt: skip
    await run(
        url,
        (callback, {"id": cb1, "kind": "resolution", "origin": f"resolved:{X}:1", "c": X,
                    "at": T0}),
        (callback, {"id": cb2, "kind": "remedial", "origin": f"survey:{X}:tok-x1", "c": X,
                    "at": T0}),
        (callback, {"id": cb3, "kind": "remedial", "origin": f"survey:{Y}:{answer_event}",
                    "c": Y, "at": T0}),
        *(
            ("INSERT INTO survey_requests (token_sha256, callback_id, complaint_id, reason, "
             "requested_at) VALUES (:h, :cb, :c, 'satisfied', :at)",
             {"h": token_sha256(t), "cb": cb, "c": X, "at": T0 + timedelta(hours=n)})
            for n, (t, cb) in enumerate((("tok-x1", cb1), ("tok-x2", cb2)))
        ),
        ("INSERT INTO outbox (event_id, topic, key, shard, event_type, payload) VALUES "
         "(:id, 'complaints.followup.v1', :k, 0, 'survey.requested', CAST(:p AS json))",
         {"id": uuid.UUID(v1["id"]), "k": str(X), "p": json.dumps(v1)}),
    )  # fmt: skip
    await asyncio.to_thread(upgrade, migrations, url, "head")
    requests, origins, outbox = await run(
        url,
        ("SELECT survey_id, callback_id, cycle FROM survey_requests ORDER BY requested_at", {}),
        ("SELECT id, origin FROM callbacks ORDER BY id", {}),
        ("SELECT payload::text FROM outbox", {}),
    )
    # The first survey of cycle 1 keeps it; the second one (after the remedial call) none.
    assert requests == [(cb1, cb1, 1), (cb2, cb2, None)]  # named by their call-backs
    assert origins == [
        (cb1, f"resolved:{X}:1"),
        (cb2, f"survey:{X}:{cb1}"),  # the remedial call after the survey of call-back 1
        (cb3, f"survey:{Y}:{answer_event}"),  # named by an answer's event id: unchanged
    ]
    (payload,) = outbox[0]
    event = json.loads(payload)
    assert "tok-x2" not in payload and event["dataschema"].endswith(":v2")
    assert event["data"]["survey_id"] == str(cb2)
    assert event["data"]["cycle"] == 1
