"""Erasure in the ledger against the real PostgreSQL and Kafka: the request from intake
erases the complaint's entry (the customer id becomes the pseudonym, what staff wrote and the
order reference go, a kept summary's repeat complainants name the pseudonym), a late event of
the complaint is erased as it is folded in, and escalation's confirmation erases again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shared.db import create_engine
from shared.events.envelope import Envelope, new_event
from shared.events.privacy import CustomerErased, CustomerErasureRequested, ErasureReason
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from shared.privacy import pseudonym_for
from tests.integration.test_ledger import (
    SUPERVISOR,
    event,
    handled,
    iso,
    produce,
    received,
    replica,
)
from tests.support.waiting import eventually


@pytest.fixture
async def ledger_db(databases) -> str:
    return await databases.create("ledger")


@pytest.fixture
async def own_topics(servers, topics) -> Topics:
    """Topics of this test alone: the summary counts every complaint it sees."""
    found = Topics(f"{topics.prefix}ledger-erase-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    return found


def with_order(envelope: Envelope, reference: str) -> Envelope:
    data = envelope.data | {"subject": {"kind": "order", "reference": reference}}
    return envelope.model_copy(update={"data": data})


async def entry_row(url: str, complaint_id: uuid.UUID) -> dict | None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text("SELECT * FROM ledger_entries WHERE complaint_id = :c"),
                    {"c": complaint_id},
                )
            ).mappings().first()  # fmt: skip
            return dict(row) if row else None
    finally:
        await engine.dispose()


async def test_an_erased_complaint_keeps_its_figures_and_loses_what_named_the_customer(
    servers, own_topics, ledger_db
):
    topics = own_topics
    now = datetime.now(UTC) - timedelta(days=1)
    customer = f"c-erase-{uuid.uuid4().hex[:6]}"
    first, second, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pairs = [(topics.intake, with_order(received(first, now, customer=customer), "SO-77"))]
    pairs += [(topics.handling, e) for e in handled(first, now)]
    pairs += [(topics.intake, received(second, now + timedelta(minutes=5), customer=customer))]
    pairs += [(topics.intake, received(other, now, customer="c-somebody-else"))]
    erasure_id = uuid.uuid4()
    pseudonym = pseudonym_for(erasure_id)

    def request(complaint_id: uuid.UUID | None) -> Envelope:
        data = CustomerErasureRequested(
            erasure_id=erasure_id,
            reason=ErasureReason.REQUEST,
            complaint_id=complaint_id,
            customer_id=None if complaint_id else customer,
            pseudonym=pseudonym,
            requested_at=datetime.now(UTC),
        )
        return new_event("/test/intake", str(complaint_id or pseudonym), data)

    async with replica(servers, topics, ledger_db) as client:
        await produce(servers, pairs)

        async def resolved_and_both_seen():
            row = await entry_row(ledger_db, first)
            both = row and row["resolution"] and await entry_row(ledger_db, second)
            return row if both else None

        before = await eventually(resolved_and_both_seen)
        assert (before["customer_id"], before["subject_reference"]) == (customer, "SO-77")
        # A summary kept before the erasure names the customer as a repeat complainant.
        made = await client.post(
            "/summaries",
            json={"period": "quarter", "start": now.date().isoformat()},
            headers=SUPERVISOR,
        )
        assert made.status_code == 201, made.text
        summary_id = made.json()["id"]
        repeat = made.json()["figures"]["repeat_complainants"]["list"]
        assert {"customer_id": customer, "complaints": 2} in repeat

        # The request for the first complaint (and the customer's own records), then an
        # event of it that was in flight, then escalation's confirmation.
        late = event(
            "case.investigated",
            first,
            {"at": iso(now + timedelta(hours=4)), "by": "p-li", "findings": "李娜 said so"},
        )
        confirmed = CustomerErased(
            erasure_id=erasure_id,
            complaint_id=first,
            pseudonym=pseudonym,
            service="escalation",
            records=1,
            at=datetime.now(UTC),
        )
        await produce(
            servers,
            [
                (topics.intake, request(first)),
                (topics.intake, request(None)),
                (topics.handling, late),
                (topics.handling, new_event("/test/escalation", str(first), confirmed)),
            ],
        )

        async def erased():
            row = await entry_row(ledger_db, first)
            other_row = await entry_row(ledger_db, second)
            done = (
                row["erased_as"] == pseudonym
                and row["findings"] == "[erased]"
                and row["investigated_at"] == now + timedelta(hours=4)
                and other_row["customer_id"] == pseudonym
            )
            return row if done else None

        after = await eventually(erased)
        kept = await client.get(f"/summaries/{summary_id}", headers=SUPERVISOR)
        shown = await client.get(f"/ledger/{first}", headers=SUPERVISOR)
    assert after["customer_id"] == pseudonym and after["subject_reference"] is None
    assert (after["plan"], after["resolution"], after["compensation"]) == ("[erased]",) * 3
    # The figures stay: dates, clocks, tier, status.
    assert after["resolved_at"] == before["resolved_at"] and after["tier"] == "A"
    assert after["clocks_met"] == before["clocks_met"] and after["status"] == "resolved"
    assert (await entry_row(ledger_db, other))["customer_id"] == "c-somebody-else"
    repeat = kept.json()["figures"]["repeat_complainants"]["list"]
    assert {"customer_id": pseudonym, "complaints": 2} in repeat
    assert all(r["customer_id"] != customer for r in repeat)
    assert shown.status_code == 200 and customer not in shown.text and "SO-77" not in shown.text
