"""The migration that keeps a lapsed customer's value in the queue, run on a database holding
what the old version wrote: retention call-backs get the tier before the drop and the queue
rank of the higher tier; other call-backs keep theirs."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from shared.migrations import upgrade
from tests.integration.test_survey_token_migrations import run
from tests.support.databases import migrations_of

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


async def test_retention_call_backs_get_their_tier_before_the_drop(databases) -> None:
    url = await databases.create("followup", migrate=False)
    migrations = migrations_of("followup")
    await asyncio.to_thread(upgrade, migrations, url, "surveys_survey_id")
    lapsed, b_customer, resolution = (uuid.UUID(int=n) for n in (0xA1, 0xB1, 0xC1))
    change = {"from_tier": "A", "to_tier": "C", "month": "2026-10", "visits": 2,
              "previous_visits": 12}  # fmt: skip
    insert = (
        "INSERT INTO callbacks (id, kind, origin, complaint_id, customer_id, customer, tier, "
        "tier_rank, reason, details, state, due_at, overdue_at, max_attempts, policy_version, "
        "created_at, updated_at) VALUES (:id, :kind, :origin, :c, :cust, '{}', :tier, :rank, "
        "'r', CAST(:details AS jsonb), 'scheduled', :at, :at, 3, 'v', :at, :at)"
    )
    rows = [
        (lapsed, "retention", "C", 3, {"tier_change": change}, None),
        (b_customer, "retention", "B", 2, {"tier_change": change | {"from_tier": "C",
                                                                    "to_tier": "B"}}, None),
        (resolution, "resolution", "C", 3, None, uuid.uuid4()),
    ]  # fmt: skip
    await run(
        url,
        *(
            (
                insert,
                {
                    "id": i,
                    "kind": k,
                    "origin": f"o-{i}",
                    "c": c,
                    "cust": f"cust-{i}",
                    "tier": t,
                    "rank": r,
                    "details": json.dumps(d) if d else None,
                    "at": T0,
                },
            )
            for i, k, t, r, d, c in rows
        ),
    )
    await asyncio.to_thread(upgrade, migrations, url, "followup_activity_callbacks")
    (found,) = await run(
        url, ("SELECT id, tier, tier_before, tier_rank FROM callbacks ORDER BY tier_rank, id", {})
    )
    assert found == [
        (lapsed, "C", "A", 1),  # worked as the A customer they were
        (b_customer, "B", "C", 2),  # never lower than now
        (resolution, "C", None, 3),
    ]
