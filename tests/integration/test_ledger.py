"""The ledger service against the real PostgreSQL and Kafka: events of the other services
fill the ledger (read tolerantly); the JSON, CSV and spreadsheet rows match the database;
reviews, their report-back clock and their actions' timers; month end and summaries on
schedule (an anchored, faster clock: no sleeping on wall time) and on demand."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from services.ledger.app import create_app
from services.ledger.domain.periods import midnight, month_label, next_due
from services.ledger.settings import LedgerSettings
from shared import timers
from shared.db import create_engine
from shared.events.envelope import Envelope
from shared.events.ledger import SummaryPeriod
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.support.kafka import Record, read_until
from tests.support.waiting import eventually

try:  # staff identities as JWTs once the identity work is on this branch
    from tests.support.identity import as_role, auth_settings

    AUTH = auth_settings()
    AGENT, SUPERVISOR = as_role("agent"), as_role("supervisor")
except ImportError:  # role:token development tokens
    AUTH = {"ops_tokens": "agent:it-ledger-agent,supervisor:it-ledger-supervisor"}
    AGENT = {"Authorization": "Bearer it-ledger-agent"}
    SUPERVISOR = {"Authorization": "Bearer it-ledger-supervisor"}

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def ledger_db(databases) -> str:
    return await databases.create("ledger")


@pytest.fixture
async def own_topics(servers, topics) -> Topics:
    """Topics of this test alone: the ledger reads whole topics, and its figures count
    every complaint it sees."""
    found = Topics(f"{topics.prefix}ledger-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    return found


@asynccontextmanager
async def replica(servers, topics, url: str, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    """A ledger replica in this process: relay, consumer, schedules and timers run, and the
    API answers through ASGI."""
    settings = LedgerSettings(
        database_url=url,
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        kafka_topic_prefix=topics.prefix,
        consumer_group=f"ledger-{uuid.uuid4().hex[:6]}",
        outbox_poll_seconds=0.2,
        timer_max_sleep_seconds=1,
        db_pool_size=4,
        **AUTH,
        **overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as client:
            yield client


def event(kind: str, complaint_id: uuid.UUID, data: dict) -> Envelope:
    """Raw events as the producers publish them, a field of a newer version included."""
    return Envelope(
        source="/test/producer",
        type=kind,
        subject=str(complaint_id),
        data={"complaint_id": str(complaint_id), "added_by_a_newer_producer": [1], **data},
    )


async def produce(servers, pairs: list[tuple[str, Envelope]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap)
    await producer.start()
    try:
        for topic, item in pairs:
            await producer.send_and_wait(topic, item.to_bytes(), key=item.key)
    finally:
        await producer.stop()


def iso(at: datetime) -> str:
    return at.isoformat()


def received(cid, at, channel="web", site="s1", category="product_quality", customer="c-1"):
    return event(
        "complaint.received",
        cid,
        {
            "received_at": iso(at),
            "channel": channel,
            "mode": "remote",
            "category": category,
            "severity": "general",
            "severity_reasons": [],
            "information_complete": True,
            "customer": {"id": customer, "name": "李娜", "phone": "+86 138 0013 8000", "tier": "A"},
            "description": "洗衣机漏水",
            "subject": {"kind": "site", "reference": site},
            "acknowledge_by": iso(at + timedelta(hours=2)),
        },
    )


def handled(cid, at, by="p-li", resolved=True, team="floor-1") -> list[Envelope]:
    found = [
        event(
            "case.assigned",
            cid,
            {"at": iso(at), "team": team, "assignee": by, "rung": "frontline", "reason": "opened"},
        ),
        event(
            "case.acknowledged",
            cid,
            {
                "at": iso(at + timedelta(minutes=5)),
                "by": by,
                "by_name": "Li Wei",
                "level": "frontline",
            },
        ),
        event(
            "case.investigated",
            cid,
            {"at": iso(at + timedelta(hours=1)), "by": by, "findings": "seal torn"},
        ),
        event(
            "case.plan_recorded",
            cid,
            {"at": iso(at + timedelta(hours=2)), "by": by, "plan": "replace the seal"},
        ),
    ]
    if resolved:
        found.append(
            event(
                "case.resolved",
                cid,
                {
                    "at": iso(at + timedelta(hours=3)),
                    "by": by,
                    "round": 1,
                    "resolution": "seal replaced",
                    "compensation": "voucher 50",
                    "severity": "general",
                    "channel": "web",
                    "category": "product_quality",
                    "customer": {"id": "c-1", "tier": "A"},
                    "tier": "A",
                    "level": "frontline",
                    "highest_level": "frontline",
                    "clocks_met": {"acknowledge": True, "investigate": True, "plan": True},
                },
            )
        )
    return found


async def seed(servers, topics, now: datetime) -> dict[str, uuid.UUID]:
    """A resolved and surveyed complaint, a rejected one, an open one that breached a clock."""
    ids = {"resolved": uuid.uuid4(), "rejected": uuid.uuid4(), "open": uuid.uuid4()}
    r, j, o = ids["resolved"], ids["rejected"], ids["open"]
    survey = event(
        "survey.recorded",
        r,
        {
            "survey_token": None,
            "level": "dissatisfied",
            "score": 2,
            "factors": ["speed"],
            "taken_by": "customer",
            "recorded_at": iso(now),
            "cycle": 1,
        },
    )
    rejected = event(
        "complaint.rejected",
        j,
        {
            "received_at": iso(now - timedelta(minutes=2)),
            "channel": "hotline",
            "category": "billing",
            "customer": {"id": "c-1", "name": "李娜"},
            "reason": "out_of_warranty",
            "explanation": "…",
            "other_channel": "repair shop",
        },
    )
    breached = event(
        "case.sla_breached",
        o,
        {
            "at": iso(now),
            "clock": "acknowledge",
            "deadline": iso(now),
            "level": "frontline",
        },
    )
    await produce(
        servers,
        [
            (topics.intake, received(r, now - timedelta(hours=4))),
            *[(topics.handling, e) for e in handled(r, now - timedelta(hours=4))],
            (topics.satisfaction, survey),
            (topics.intake, rejected),
            # The open one's handling events come before its registration: other topic, any order.
            (topics.handling, breached),
            (
                topics.intake,
                received(
                    o,
                    now - timedelta(minutes=1),
                    channel="counter",
                    site="s2",
                    category="service",
                    customer="c-2",
                ),
            ),
        ],
    )
    return ids


def all_consumed(items: list[dict], ids: dict[str, uuid.UUID]) -> bool:
    """Every seeded event is in: the topics are consumed independently of each other."""
    by_id = {i["complaint_id"]: i for i in items}
    if set(by_id) != {str(v) for v in ids.values()}:
        return False
    done, opened = by_id[str(ids["resolved"])], by_id[str(ids["open"])]
    return (
        done["status"] == "resolved"
        and done["satisfaction"] is not None
        and done["team"] is not None
        and opened["received_at"] is not None
        and opened["breached_clocks"] is not None
        and by_id[str(ids["rejected"])]["status"] == "rejected"
    )


async def ledger_items(client: httpx.AsyncClient, **params) -> list[dict]:
    answer = await client.get("/ledger", params=params, headers=AGENT)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_events_fill_the_ledger_and_every_download_matches_the_database(
    servers, own_topics, ledger_db
):
    topics = own_topics
    now = datetime.now(UTC).replace(microsecond=0)
    ids = await seed(servers, topics, now)
    async with replica(servers, topics, ledger_db) as client:

        async def complete():
            items = await ledger_items(client)
            return items if all_consumed(items, ids) else None

        items = await eventually(complete)
        by_id = {i["complaint_id"]: i for i in items}
        done = by_id[str(ids["resolved"])]
        assert done["status"] == "resolved" and done["site"] == "s1"
        assert done["acknowledged_by"] == "Li Wei (p-li)" and done["findings"] == "seal torn"
        assert done["resolution"] == "seal replaced" and done["compensation"] == "voucher 50"
        assert done["satisfaction"] == "1: dissatisfied (2)" and done["team"] == "floor-1"
        assert by_id[str(ids["rejected"])]["status"] == "rejected"
        assert by_id[str(ids["rejected"])]["rejection_reason"] == "out_of_warranty"
        assert by_id[str(ids["open"])]["breached_clocks"] == "acknowledge"
        assert "李娜" not in str(items) and "138" not in str(items)

        # Filters and paging.
        assert [i["complaint_id"] for i in await ledger_items(client, site="s2")] == [
            str(ids["open"])
        ]
        assert len(await ledger_items(client, category="billing")) == 1
        assert len(await ledger_items(client, team="floor-1")) == 1
        later = (now - timedelta(minutes=1, seconds=30)).isoformat()
        assert len(await ledger_items(client, **{"from": later})) == 1
        assert len(await ledger_items(client, to=(now - timedelta(hours=1)).isoformat())) == 1
        pages, cursor = [], None
        while True:
            params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/ledger", params=params, headers=AGENT)).json()
            pages += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert [p["complaint_id"] for p in pages] == [i["complaint_id"] for i in items]

        # The database, the CSV and the spreadsheet say the same.
        engine = create_engine(ledger_db, pool_size=1)
        async with engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT complaint_id, received_at, site, category, status, "
                            "resolved_by, reopens FROM ledger_entries "
                            "ORDER BY received_at, complaint_id"
                        )
                    )
                )
                .mappings()
                .all()
            )
        await engine.dispose()
        assert [str(r["complaint_id"]) for r in rows] == [i["complaint_id"] for i in items]

        answer = await client.get("/ledger.csv", headers=AGENT)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
        header, lines = table[0], table[1:]
        col = {name: header.index(name) for name in header}
        answer = await client.get("/ledger.xlsx", headers=AGENT)
        assert answer.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        sheet = list(book["Ledger"].iter_rows(values_only=True))
        xheader, xlines = sheet[0], sheet[1:]
        xcol = {name.split(" (")[0]: i for i, name in enumerate(xheader)}
        assert len(lines) == len(xlines) == len(rows) == 3
        for row, line, xline in zip(rows, lines, xlines, strict=True):
            local = row["received_at"].astimezone(SHANGHAI)
            assert line[col["Complaint"]] == xline[xcol["Complaint"]] == str(row["complaint_id"])
            assert line[col["Received at"]] == local.isoformat(timespec="seconds")
            assert xline[xcol["Received at"]] == local.replace(tzinfo=None)
            assert line[col["Site"]] == (row["site"] or "")
            assert xline[xcol["Site"]] == row["site"]
            assert line[col["Status"]] == xline[xcol["Status"]] == row["status"]
            assert line[col["Category"]] == xline[xcol["Category"]] == row["category"]
            resolved_by = line[col["Resolved by"]]
            assert (resolved_by or None) == xline[xcol["Resolved by"]]
            assert (row["resolved_by"] or "") in resolved_by
            assert int(line[col["Reopens"]]) == xline[xcol["Reopens"]] == row["reopens"]

        page = await client.get("/ledger/print", params={"site": "s1"}, headers=AGENT)
        assert page.status_code == 200 and "@page" in page.text
        assert str(ids["resolved"])[:8] in page.text and str(ids["open"])[:8] not in page.text

        # Credentials and bad input.
        assert (await client.get("/ledger")).status_code == 401
        bad = await client.get("/ledger", params={"from": "yesterday"}, headers=AGENT)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]
        bad = await client.get("/ledger", params={"cursor": "nope"}, headers=AGENT)
        assert bad.status_code == 422
        one = await client.get(f"/ledger/{ids['open']}", headers=AGENT)
        assert one.status_code == 200 and one.json()["site"] == "s2"
        assert (await client.get(f"/ledger/{uuid.uuid4()}", headers=AGENT)).status_code == 404


def of_type(kind: str, key: str | None = None):
    return lambda r: r.value["type"] == kind and (key is None or r.key == key)


async def test_reviews_their_report_clock_and_their_actions(servers, own_topics, ledger_db):
    topics = own_topics
    now = datetime.now(UTC).replace(microsecond=0)
    late, prompt, still_open, reopened = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reopen = event("case.reopened", reopened, {"at": iso(now), "round": 2, "reason": "leaks"})
    await produce(
        servers,
        [
            # Resolved four days ago: its three-day report clock has already run out.
            (topics.intake, received(late, now - timedelta(days=4, hours=4))),
            *[(topics.handling, e) for e in handled(late, now - timedelta(days=4, hours=4))],
            (topics.intake, received(prompt, now - timedelta(hours=4))),
            *[(topics.handling, e) for e in handled(prompt, now - timedelta(hours=4))],
            (topics.intake, received(still_open, now - timedelta(hours=1))),
            # Resolved, then reopened: no report is due until it is resolved again.
            (topics.intake, received(reopened, now - timedelta(days=5))),
            *[(topics.handling, e) for e in handled(reopened, now - timedelta(days=5))],
            (topics.handling, reopen),
        ],
    )
    async with replica(servers, topics, ledger_db) as client:
        await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: len(kept) == 1,
            of_type("review.report_overdue", str(late)),
        )
        overdue = await client.get("/reviews", params={"overdue": "true"}, headers=AGENT)
        assert [r["complaint_id"] for r in overdue.json()] == [str(late)]
        assert overdue.json()[0]["report_state"] == "overdue"

        async def clock_of_prompt():
            answer = await client.get(f"/reviews/{prompt}", headers=AGENT)
            return answer.json() if answer.status_code == 200 else None

        clock = await eventually(clock_of_prompt)
        assert clock["report_state"] == "awaiting" and not clock["overdue"]
        finished = datetime.fromisoformat(clock["finished_at"])
        assert datetime.fromisoformat(clock["report_due_at"]) == finished + timedelta(days=3)

        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        body = {
            "root_cause": "supplier_quality",
            "summary": "seals from one batch tear",
            "actions": [
                {
                    "kind": "corrective",
                    "description": "replace the batch",
                    "owner": "p-li",
                    "due_at": soon,
                },
                {
                    "kind": "preventive",
                    "description": "incoming inspection of seals",
                    "owner": "manager-liu",
                    "due_at": later,
                },
            ],
        }
        # Bad input names the field; the state of the complaint decides the rest.
        wrong = await client.post(
            f"/reviews/{prompt}", json=body | {"root_cause": "gremlins"}, headers=AGENT
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["body", "root_cause"]
        past = body | {"actions": [body["actions"][0] | {"due_at": "2020-01-01T00:00:00Z"}]}
        wrong = await client.post(f"/reviews/{prompt}", json=past, headers=AGENT)
        assert wrong.json()["detail"][0]["loc"] == ["body", "actions", 0, "due_at"]
        wrong = await client.post(f"/reviews/{prompt}", json=body | {"actions": []}, headers=AGENT)
        assert wrong.status_code == 422
        assert (await client.post(f"/reviews/{prompt}", json=body)).status_code == 401

        async def open_one_known():
            return (await client.get(f"/ledger/{still_open}", headers=AGENT)).status_code == 200

        await eventually(open_one_known)
        refused = await client.post(f"/reviews/{still_open}", json=body, headers=AGENT)
        assert refused.status_code == 409 and "open" in refused.json()["detail"]
        missing = await client.post(f"/reviews/{uuid.uuid4()}", json=body, headers=AGENT)
        assert missing.status_code == 404

        recorded = await client.post(f"/reviews/{prompt}", json=body, headers=AGENT)
        assert recorded.status_code == 201, recorded.text
        review = recorded.json()
        assert review["report_state"] == "reported" and review["root_cause"] == "supplier_quality"
        assert review["root_cause_group"] == "product" and len(review["actions"]) == 2
        again = await client.post(f"/reviews/{prompt}", json=body, headers=AGENT)
        assert again.status_code == 409

        # The late one can still report: recorded as late, and it stays in the overdue list.
        late_review = await client.post(f"/reviews/{late}", json=body, headers=AGENT)
        assert late_review.json()["report_state"] == "reported_late"
        overdue = await client.get("/reviews", params={"overdue": "true"}, headers=AGENT)
        assert [r["complaint_id"] for r in overdue.json()] == [str(late)]

        corrective = next(a for a in review["actions"] if a["kind"] == "corrective")
        preventive = next(a for a in review["actions"] if a["kind"] == "preventive")
        found = await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: any(r.value["type"] == "review.action_overdue" for r in kept),
            lambda r: r.key == str(prompt),
        )
        kinds = [r.value["type"] for r in found]
        assert kinds == ["review.recorded", "review.action_overdue"]
        assert found[0].value["data"]["report_late"] is False
        assert found[1].value["data"]["action_id"] == corrective["id"]

        done = await client.post(
            f"/reviews/{prompt}/actions/{preventive['id']}/done",
            json={"note": "inspection in place"},
            headers=AGENT,
        )
        assert done.status_code == 200
        assert next(a for a in done.json()["actions"] if a["id"] == preventive["id"])["done_at"]
        twice = await client.post(
            f"/reviews/{prompt}/actions/{preventive['id']}/done", json={}, headers=AGENT
        )
        assert twice.status_code == 409

        async def reopened_known():
            answer = await client.get(f"/ledger/{reopened}", headers=AGENT)
            return answer.status_code == 200 and answer.json()["reopens"] == 1

        await eventually(reopened_known)
        clock = (await client.get(f"/reviews/{reopened}", headers=AGENT)).json()
        assert clock["report_state"] == "not_due" and clock["report_due_at"] is None
        future = body | {"actions": [body["actions"][1]]}
        refused = await client.post(f"/reviews/{reopened}", json=future, headers=AGENT)
        assert refused.status_code == 409 and "open" in refused.json()["detail"]


def summary_of(records: list[Record], period: str, start: str) -> dict | None:
    for r in records:
        data = r.value["data"]
        if data["period"] == period and data["start"] == start:
            return data
    return None


async def test_month_end_and_summaries_on_schedule_and_on_demand(servers, own_topics, ledger_db):
    """The schedules run on the ledger's own clock, anchored an hour (calendar) before the
    next week or month end at a wall time a little ahead, and running fast enough to reach
    both in seconds; the events are consumed first (by a replica on the wall clock), so the
    figures are known in advance."""
    topics = own_topics
    now = datetime.now(UTC).replace(microsecond=0)
    ids = await seed(servers, topics, now)
    async with replica(servers, topics, ledger_db) as client:

        async def complete():
            return all_consumed(await ledger_items(client), ids)

        await eventually(complete)
        assert (await client.get("/month-end/2026-13", headers=AGENT)).status_code == 422

    # One calendar hour before the first of the two ends, 15 s from now, whenever the
    # replica is ready; both ends within about ten seconds more.
    week = next_due(SummaryPeriod.WEEK, now, SHANGHAI)
    month = next_due(SummaryPeriod.MONTH, now, SHANGHAI)
    first, last = min(week.at, month.at), max(week.at, month.at)
    anchor = first - timedelta(hours=1)
    scale = (last - anchor).total_seconds() / 10
    wall_start = datetime.now(UTC) + timedelta(seconds=15)
    async with replica(
        servers,
        topics,
        ledger_db,
        clock_anchor=anchor,
        clock_wall_start=wall_start,
        clock_scale=scale,
        summary_schedules=["week"],
    ) as client:
        label = month_label(month.start)
        flags = await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: len(kept) == 1,
            of_type("ledger.month_end_flagged", f"month-end:{label}"),
        )
        flagged = flags[0].value["data"]
        assert flagged["month"] == label and flagged["count"] == 1
        (only,) = flagged["complaints"]
        assert only["complaint_id"] == str(ids["open"]) and only["site"] == "s2"
        assert only["age_days"] == (month.at - (now - timedelta(minutes=1))).days
        listed = await client.get(f"/month-end/{label}", headers=AGENT)
        assert listed.status_code == 200
        assert [c["complaint_id"] for c in listed.json()["complaints"]] == [str(ids["open"])]

        start = week.start.isoformat()
        published = await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: summary_of(kept, "week", start) is not None,
            of_type("ledger.summary_published"),
        )
        weekly = summary_of(published, "week", start)
        assert weekly["trigger"] == "scheduled"
        f = weekly["figures"]
        assert f["complaints"] == 3
        assert f["by_channel"] == {"counter": 1, "hotline": 1, "web": 1}
        assert f["by_site"] == {"s1": 1, "s2": 1, "unknown": 1}
        assert f["validity"] == {
            "valid": 2,
            "invalid": 1,
            "rejection_reasons": {"out_of_warranty": 1},
        }
        assert f["timely_handling"]["clocks"]["acknowledge"]["open_breached"] == 1
        assert f["timely_handling"]["rate"] == 0.5  # one on time of the two measured
        assert f["satisfaction"]["rate"] == 0.0 and f["satisfaction"]["meets_target"] is False
        assert f["dissatisfaction_factors"]["top"][0]["factor"] == "speed"
        assert f["repeat_complainants"]["list"] == [{"customer_id": "c-1", "complaints": 2}]

        listed = await client.get("/summaries", params={"period": "week"}, headers=AGENT)
        assert weekly["summary_id"] in [s["id"] for s in listed.json()]

        # On demand: a supervisor may, an agent may not.
        ask = {"period": "quarter", "start": now.date().isoformat()}
        assert (await client.post("/summaries", json=ask, headers=AGENT)).status_code == 403
        bad = await client.post("/summaries", json=ask | {"period": "decade"}, headers=SUPERVISOR)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "period"]
        made = await client.post("/summaries", json=ask, headers=SUPERVISOR)
        assert made.status_code == 201, made.text
        quarter = made.json()
        assert quarter["trigger"] == "on_demand" and quarter["figures"]["complaints"] == 3
        shown = await client.get(f"/summaries/{quarter['id']}", headers=AGENT)
        assert shown.json()["figures"] == quarter["figures"]
        page = await client.get(f"/summaries/{quarter['id']}/print", headers=AGENT)
        assert page.status_code == 200 and "Timely handling" in page.text
        await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: len(kept) == 1,
            lambda r: r.value["data"].get("summary_id") == quarter["id"],
        )


async def test_a_month_end_missed_while_nothing_ran_is_flagged_at_start(
    servers, own_topics, ledger_db
):
    """The timer of last month's end fell due while no replica ran: the first replica to
    start keeps it (reconciling the schedules does not replace it), fires it, and arms the
    month after."""
    topics = own_topics
    now = datetime.now(UTC).replace(microsecond=0)
    this_month = next_due(SummaryPeriod.MONTH, now, SHANGHAI)
    last_start = (this_month.start - timedelta(days=1)).replace(day=1)
    engine = create_engine(ledger_db, pool_size=1)
    async with engine.begin() as conn:
        await timers.arm(
            conn,
            "ledger.month_end",
            "schedule:ledger.month_end:month",
            this_month.at - timedelta(days=40),
            {
                "period": "month",
                "start": last_start.isoformat(),
                "end": this_month.start.isoformat(),
                "at": midnight(this_month.start, SHANGHAI).isoformat(),
            },
        )
    async with replica(servers, topics, ledger_db, summary_schedules=[]) as client:
        label = month_label(last_start)
        await read_until(
            servers.kafka_bootstrap,
            topics.ledger,
            lambda kept: len(kept) == 1,
            of_type("ledger.month_end_flagged", f"month-end:{label}"),
        )
        listed = await client.get(f"/month-end/{label}", headers=AGENT)
        assert listed.status_code == 200 and listed.json()["count"] == 0
    async with engine.connect() as conn:
        pending = (
            await conn.execute(
                sa.text(
                    "SELECT due_at, payload FROM timers WHERE kind = 'ledger.month_end' "
                    "AND fired_at IS NULL AND cancelled_at IS NULL"
                )
            )
        ).all()
    await engine.dispose()
    assert [(due, payload["start"]) for due, payload in pending] == [
        (this_month.at, this_month.start.isoformat())
    ]
