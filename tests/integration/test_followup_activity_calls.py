"""Calls after a purchase or an exchange, and the lapsed customer's place in the queue,
against the real PostgreSQL and Kafka: activity events on ``customers.activity.v1`` through a
follow-up replica (relay, consumer, timers) and its API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.followup.domain.tiers import month_of, previous_month
from shared.db import create_engine
from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.common import Tier
from shared.events.envelope import Envelope, new_event
from tests.integration.test_followup import AGENT, UTC_ZONE, produce, replica
from tests.support.kafka import read_until
from tests.support.waiting import eventually

# A purchase falls due a second after it happened; an exchange an hour after (so the test
# sees both: one in the queue as due, one waiting with its own time).
POLICY = """
version: it-activity
callback:
  after_resolution: 1h
  remedial_after: 30m
  overdue_after: 1h
attempts: {max: 2, spacing: [1h]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
after_activity: {purchase: 1s, exchange: 1h, call_within: 7d}
"""


@pytest.fixture
async def followup_db(databases) -> str:
    return await databases.create("followup")


def activity(
    customer: str,
    kind: ActivityKind,
    at: datetime,
    reference: str | None = None,
    tier: Tier = Tier.C,
) -> Envelope:
    data = CustomerActivity(
        customer=ActivityCustomer(id=customer, name="王芳", phone="13900000000", tier=tier),
        kind=kind,
        at=at,
        location="store-42",
        reference=reference,
    )
    return new_event("/test/tills", customer, data)


async def calls_of(client, customer: str, kind: str | None = None) -> list[dict]:
    params = {"kind": kind} if kind else {}
    page = await client.get("/callbacks", params=params | {"limit": 200}, headers=AGENT)
    assert page.status_code == 200, page.text
    return [c for c in page.json()["items"] if c["customer"]["id"] == customer]


async def applied(url: str, events: list[Envelope]) -> bool:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.text("SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)"),
                {"ids": [e.id for e in events]},
            )
        return found == len({e.id for e in events})
    finally:
        await engine.dispose()


async def test_a_purchase_and_an_exchange_each_get_their_call_once(
    servers, topics, followup_db, tmp_path
):
    customer = f"cust-sale-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    bought = activity(customer, ActivityKind.PURCHASE, now, "SO-1")
    exchanged = activity(customer, ActivityKind.EXCHANGE, now, "EX-1")
    # The same purchase told again under a new event id (a till resending), a second purchase
    # while the call is open (joins it), a purchase too old to call about, a plain visit.
    retold = activity(customer, ActivityKind.PURCHASE, now, "SO-1")
    second = activity(customer, ActivityKind.PURCHASE, now + timedelta(minutes=1), "SO-2")
    old = activity(customer, ActivityKind.PURCHASE, now - timedelta(days=9), "SO-0")
    visit = activity(customer, ActivityKind.VISIT, now)
    first_batch = [bought, bought, exchanged, retold, old, visit]
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with replica(servers, topics, followup_db, POLICY, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.activity, first_batch)

        async def sale_is_due():
            calls = await calls_of(client, customer, "after_sale")
            return calls if calls and calls[0]["state"] == "due" else None

        [sale] = await eventually(sale_is_due)
        await produce(servers.kafka_bootstrap, topics.activity, [second])
        await eventually(lambda: applied(followup_db, [*first_batch, second]))
        sales = await calls_of(client, customer, "after_sale")
        [exchange] = await calls_of(client, customer, "after_exchange")
        assert len(sales) == 1 and sales[0]["callback_id"] == sale["callback_id"]
        listed = sales[0]["details"]["activities"]
        assert [(a["kind"], a["reference"]) for a in listed] == [
            ("purchase", "SO-1"), ("purchase", "SO-2")
        ]  # fmt: skip
        assert datetime.fromisoformat(sale["due_at"]) == now + timedelta(seconds=1)
        assert datetime.fromisoformat(exchange["due_at"]) == now + timedelta(hours=1)
        assert exchange["state"] == "scheduled" and exchange["complaint_id"] is None
        assert exchange["reason"].startswith("exchange (EX-1) at store-42")

        # The customer is reached and unhappy: the call ends (no complaint to reopen).
        answer = await client.post(
            f"/callbacks/{sale['callback_id']}/outcome",
            json={"reached": True, "satisfied": False, "customer_words": "太吵了"},
            headers=AGENT,
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["state"], answer.json()["outcome"]) == (
            "completed", "not_satisfied"
        )  # fmt: skip
        # Once it is closed, the next purchase gets a call of its own.
        third = activity(customer, ActivityKind.PURCHASE, now + timedelta(minutes=2), "SO-3")
        await produce(servers.kafka_bootstrap, topics.activity, [third, retold])

        async def second_call():
            calls = await calls_of(client, customer, "after_sale")
            return calls if len(calls) == 2 else None

        calls = await eventually(second_call)
        await eventually(lambda: applied(followup_db, [third, retold]))
        assert len(await calls_of(client, customer, "after_sale")) == 2
        # Read while the replica runs: its relay publishes what the calls wrote.
        published = await read_until(
            servers.kafka_bootstrap,
            topics.followup,
            lambda kept: (
                any(r.value["type"] == "followup.completed" for r in kept)
                and sum(r.value["type"] == "followup.scheduled" for r in kept) >= 3
            ),
            lambda r: r.key == customer,
        )
    newest = next(c for c in calls if c["callback_id"] != sale["callback_id"])
    assert [a["reference"] for a in newest["details"]["activities"]] == ["SO-3"]
    scheduled = [r.value for r in published if r.value["type"] == "followup.scheduled"]
    assert sorted(e["data"]["kind"] for e in scheduled) == [
        "after_exchange", "after_sale", "after_sale"
    ]  # fmt: skip
    assert all(e["dataschema"].endswith(":v2") for e in scheduled)
    due = [r.value["data"] for r in published if r.value["type"] == "followup.due"]
    assert [d["kind"] for d in due] == ["after_sale"]
    [done] = [r.value["data"] for r in published if r.value["type"] == "followup.completed"]
    assert (done["kind"], done["outcome"], done["satisfied"], done["customer_id"]) == (
        "after_sale", "not_satisfied", False, customer
    )  # fmt: skip


def days(customer: str, month: date, n: int) -> list[Envelope]:
    return [
        activity(customer, ActivityKind.VISIT, datetime(month.year, month.month, d + 1, 10,
                                                        tzinfo=UTC))
        for d in range(n)
    ]  # fmt: skip


async def test_a_lapsed_a_customer_sorts_above_a_b_customer_and_its_outcome_is_published(
    servers, topics, followup_db, tmp_path
):
    """A customer who fell from A to C is called about at A: before a B customer due at the
    same time, found under ``tier=A``; both tiers shown, and the call's outcome carries the
    tier change for the reports."""
    now = datetime.now(UTC)
    last = previous_month(month_of(now, UTC_ZONE))
    lapsed = f"cust-lapsed-{uuid.uuid4().hex[:6]}"
    b_customer = f"cust-b-{uuid.uuid4().hex[:6]}"
    # A (12 visits) the month before last, C (2) last month; the B customer buys today.
    events = days(lapsed, previous_month(last), 12) + days(lapsed, last, 2)
    events.append(activity(b_customer, ActivityKind.PURCHASE, now, "SO-B", tier=Tier.B))
    slow = POLICY.replace("purchase: 1s", "purchase: 1h")
    group = f"followup-it-{uuid.uuid4().hex[:6]}"
    async with replica(servers, topics, followup_db, slow, group, tmp_path) as client:
        await produce(servers.kafka_bootstrap, topics.activity, events)

        async def both_calls():
            retention = await calls_of(client, lapsed, "retention")
            sale = await calls_of(client, b_customer, "after_sale")
            return (retention[0], sale[0]) if retention and sale else None

        retention, sale = await eventually(both_calls)
        assert (retention["tier_now"], retention["tier_before"], retention["queue_tier"]) == (
            "C", "A", "A"
        )  # fmt: skip
        assert (sale["tier_now"], sale["tier_before"], sale["queue_tier"]) == ("B", None, "B")
        # Both due at the same time (the agents moved them): the lapsed A customer comes first.
        same_time = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
        for call in (retention, sale):
            moved = await client.post(
                f"/callbacks/{call['callback_id']}/reschedule",
                json={"due_at": same_time.isoformat(), "reason": "customer asked"},
                headers=AGENT,
            )
            assert moved.status_code == 200, moved.text
        page = await client.get(
            "/callbacks",
            params={"due_before": (same_time + timedelta(seconds=1)).isoformat(), "limit": 200},
            headers=AGENT,
        )
        mine = [
            c["customer"]["id"]
            for c in page.json()["items"]
            if c["customer"]["id"] in {lapsed, b_customer}
        ]
        assert mine == [lapsed, b_customer]
        a_tier = await client.get("/callbacks", params={"tier": "A"}, headers=AGENT)
        assert lapsed in {c["customer"]["id"] for c in a_tier.json()["items"]}
        c_tier = await client.get("/callbacks", params={"tier": "C"}, headers=AGENT)
        assert lapsed not in {c["customer"]["id"] for c in c_tier.json()["items"]}

        done = await client.post(
            f"/callbacks/{retention['callback_id']}/outcome",
            json={"reached": True, "satisfied": True, "customer_words": "会再来的"},
            headers=AGENT,
        )
        assert done.status_code == 200, done.text
        # Read while the replica runs: its relay publishes the outcome.
        published = await read_until(
            servers.kafka_bootstrap,
            topics.followup,
            lambda kept: len(kept) >= 1,
            lambda r: r.key == lapsed and r.value["type"] == "followup.completed",
        )
    data = published[0].value["data"]
    assert (data["kind"], data["outcome"], data["satisfied"], data["attempts"]) == (
        "retention", "satisfied", True, 1
    )  # fmt: skip
    assert (data["tier"], data["tier_before"], data["went_overdue"]) == ("C", "A", False)
    assert data["tier_change"]["from_tier"] == "A" and data["tier_change"]["to_tier"] == "C"
