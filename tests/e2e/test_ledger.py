"""The ledger as a real process beside intake and escalation, against the real Kafka and
PostgreSQL: complaints seeded across sites and channels through intake, worked through
escalation's API; the ledger follows their events; then, on a clock anchored just before the
week's and the month's end and running fast (no sleeping on wall time), the month-end flags
and the weekly summary come out with the figures computed here by hand, and the ledger
downloads as a spreadsheet whose rows match its database.

Intake stamps each complaint with its own wall clock, so "the month" of complaints is the
few minutes of this test: only the ledger's calendar is anchored and scaled."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import sqlalchemy as sa

from services.ledger.domain.periods import month_label, next_due
from services.ledger.domain.review import BUNDLED_TAXONOMY
from shared.db import create_engine
from shared.events.ledger import SummaryPeriod
from shared.events.topics import Topics
from shared.messaging.admin import ensure_topics
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.support.kafka import read_until
from tests.support.servers import ROOT
from tests.support.waiting import eventually

AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
SUPERVISOR = {"Authorization": f"Bearer {OPS_TOKENS['supervisor']}"}
ZONE = ZoneInfo("Asia/Shanghai")

# (channel, site, category, customer, what happens): "resolved" goes through every step,
# "acknowledged" stops after acceptance, "open" is left alone, "invalid" is past warranty.
SEEDS = [
    ("web", "store-1", "product_quality", "c-rep", "resolved"),
    ("web", "store-1", "product_quality", "c-101", "resolved"),
    ("web", "store-1", "safety", "c-102", "open"),  # major by category
    ("hotline", "store-2", "service_attitude", "c-rep", "resolved"),
    ("hotline", "store-2", "service_attitude", "c-201", "acknowledged"),
    ("counter", "store-3", "service_attitude", "c-301", "open"),
    ("web", "store-3", "product_quality", "c-rep", "invalid"),
]


async def submit(http: httpx.AsyncClient, intake: str, seed: tuple) -> str:
    channel, site, category, customer, fate = seed
    subject = {"kind": "site", "reference": site}
    if fate == "invalid":
        subject |= {"warranty_until": (date.today() - timedelta(days=400)).isoformat()}
    answer = await http.post(
        f"{intake}/complaints",
        headers={"X-API-Key": INTAKE_KEYS[channel], "Idempotency-Key": uuid.uuid4().hex},
        json={
            "customer": {"id": customer, "name": "王芳", "phone": "+86 139 0000 0000",
                         "tier": "B"},
            "category": category,
            "description": "冰箱不制冷 / the fridge does not cool",
            "subject": subject,
        },
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()["complaint_id"]


async def work(http: httpx.AsyncClient, escalation: str, complaint_id: str, fate: str) -> None:
    case = f"{escalation}/cases/{complaint_id}"

    async def opened():
        return (await http.get(case, headers=AGENT)).status_code == 200

    await eventually(opened)
    steps = [("acknowledge", {})]
    if fate == "resolved":
        steps += [
            ("investigate", {"findings": "compressor relay failed"}),
            ("plan", {"plan": "replace the relay at home"}),
            ("resolve", {"resolution": "relay replaced", "compensation": "voucher 100"}),
        ]
    for action, body in steps:
        answer = await http.post(f"{case}/{action}", json=body, headers=AGENT)
        assert answer.status_code == 200, (action, answer.text)


async def test_a_month_of_complaints_gives_the_month_end_flags_and_the_summary(
    start_service, servers, topics
):
    own = Topics(f"{topics.prefix}ledger-e2e-{uuid.uuid4().hex[:6]}.")
    await ensure_topics(servers.kafka_bootstrap, own.all(), partitions=3)
    env = {"KAFKA_TOPIC_PREFIX": own.prefix}
    intake = await start_service("intake", **env)
    escalation = await start_service("escalation", **env)
    ledger = await start_service("ledger", **env)
    ids: dict[str, tuple] = {}
    async with httpx.AsyncClient(timeout=15) as http:
        for seed in SEEDS:
            ids[await submit(http, intake.url, seed)] = seed
        for complaint_id, seed in ids.items():
            if seed[4] in ("resolved", "acknowledged"):
                await work(http, escalation.url, complaint_id, seed[4])

        async def followed():
            answer = await http.get(f"{ledger.url}/ledger", headers=AGENT)
            rows = {r["complaint_id"]: r for r in answer.json()["items"]}
            if set(rows) != set(ids):
                return None
            for complaint_id, seed in ids.items():
                row, fate = rows[complaint_id], seed[4]
                if row["received_at"] is None or (row["rung"] is None and fate != "invalid"):
                    return None
                if fate == "resolved" and row["status"] != "resolved":
                    return None
                if fate == "acknowledged" and row["acknowledged_at"] is None:
                    return None
            return rows

        rows = await eventually(followed)
        assert {rows[c]["status"] for c, s in ids.items() if s[4] == "invalid"} == {"rejected"}
        resolved = next(rows[c] for c, s in ids.items() if s[4] == "resolved")
        assert resolved["findings"] == "compressor relay failed"
        assert resolved["compensation"] == "voucher 100" and resolved["resolved_by"]
        assert "王芳" not in str(rows) and "139 0000 0000" not in str(rows)
        assert "13900000000" not in str(rows)
    ledger.stop()

    # The same database on a clock that shows one calendar hour before the first of the
    # week's end and the month's end 30 s from now (whenever the process is ready), and runs
    # fast enough to pass both within about ten seconds more.
    now = datetime.now(UTC)
    week = next_due(SummaryPeriod.WEEK, now, ZONE)
    month = next_due(SummaryPeriod.MONTH, now, ZONE)
    anchor = min(week.at, month.at) - timedelta(hours=1)
    scale = (max(week.at, month.at) - anchor).total_seconds() / 10
    ledger = await start_service(
        "ledger",
        database_url=ledger.database_url,  # type: ignore[attr-defined]
        LEDGER_CLOCK_ANCHOR=anchor.isoformat(),
        LEDGER_CLOCK_WALL_START=(now + timedelta(seconds=30)).isoformat(),
        LEDGER_CLOCK_SCALE=str(scale),
        LEDGER_SUMMARY_SCHEDULES='["week"]',
        **env,
    )
    label = month_label(month.start)
    flags = await read_until(
        servers.kafka_bootstrap,
        own.ledger,
        lambda kept: len(kept) == 1,
        lambda r: r.value["type"] == "ledger.month_end_flagged" and r.key == f"month-end:{label}",
        timeout=60,
    )
    # By hand: unresolved are the two left open and the one only acknowledged.
    unresolved = {c for c, s in ids.items() if s[4] in ("open", "acknowledged")}
    flagged = flags[0].value["data"]
    assert flagged["count"] == 3
    assert {c["complaint_id"] for c in flagged["complaints"]} == unresolved
    assert {c["site"] for c in flagged["complaints"]} == {"store-1", "store-2", "store-3"}
    for item in flagged["complaints"]:
        received = datetime.fromisoformat(item["received_at"])
        assert item["age_days"] == (month.at - received).days
        assert item["rung"]  # and the team, where escalation routes cases to teams

    start = week.start.isoformat()
    published = await read_until(
        servers.kafka_bootstrap,
        own.ledger,
        lambda kept: len(kept) == 1,
        lambda r: (
            r.value["type"] == "ledger.summary_published"
            and r.value["data"]["start"] == start
            and r.value["data"]["period"] == "week"
        ),
        timeout=60,
    )
    f = published[0].value["data"]["figures"]
    assert f["complaints"] == 7
    assert f["by_channel"] == {"web": 4, "hotline": 2, "counter": 1}
    # complaint.rejected carries no subject (yet): the invalid one's site is unknown here.
    assert f["by_site"] == {"store-1": 3, "store-2": 2, "store-3": 1, "unknown": 1}
    assert f["by_category"] == {"product_quality": 3, "service_attitude": 3, "safety": 1}
    assert f["validity"] == {"valid": 6, "invalid": 1,
                             "rejection_reasons": {"out_of_warranty": 1}}  # fmt: skip
    assert f["severity"] == {"general": 5, "major": 1}
    assert f["status"] == {"open": 3, "resolved": 3, "rejected": 1}
    # Three resolved in minutes: every clock met; the open ones have breached nothing yet.
    timely = f["timely_handling"]
    assert (timely["complaints_measured"], timely["complaints_on_time"]) == (3, 3)
    assert timely["rate"] == 1.0 and timely["meets_target"] is True
    assert f["reopen"] == {"resolved_at_least_once": 3, "reopened": 0, "rate": 0.0}
    assert f["satisfaction"]["answers"] == 0 and f["satisfaction"]["rate"] is None
    assert f["repeat_complainants"]["list"] == [{"customer_id": "c-rep", "complaints": 3}]

    async with httpx.AsyncClient(timeout=15) as http:
        listed = await http.get(f"{ledger.url}/month-end/{label}", headers=AGENT)
        assert {c["complaint_id"] for c in listed.json()["complaints"]} == unresolved
        summaries = await http.get(f"{ledger.url}/summaries?period=week", headers=AGENT)
        assert published[0].value["data"]["summary_id"] in [s["id"] for s in summaries.json()]
        made = await http.post(
            f"{ledger.url}/summaries",
            json={"period": "half_year", "start": now.date().isoformat()},
            headers=SUPERVISOR,
        )
        assert made.status_code == 201 and made.json()["figures"]["complaints"] == 7
        sheet = await http.get(f"{ledger.url}/ledger.xlsx", headers=AGENT)
    book = openpyxl.load_workbook(io.BytesIO(sheet.content), read_only=True)
    lines = list(book["Ledger"].iter_rows(values_only=True))
    column = {name.split(" (")[0]: i for i, name in enumerate(lines[0])}
    engine = create_engine(ledger.database_url, pool_size=1)  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.text(
                    "SELECT complaint_id, site, status, compensation FROM ledger_entries "
                    "ORDER BY received_at, complaint_id"
                )
            )
        ).all()
    await engine.dispose()
    assert [
        (line[column["Complaint"]], line[column["Site"]], line[column["Status"]],
         line[column["Compensation"]])
        for line in lines[1:]
    ] == [(str(c), site, status, comp) for c, site, status, comp in stored]  # fmt: skip


def test_a_bad_taxonomy_stops_the_service_with_the_line_and_the_problem(tmp_path):
    text = BUNDLED_TAXONOMY.read_text().replace("code: training_gap", "code: service_attitude")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "code: service_attitude" in t)
    line = next(
        i for i, t in enumerate(text.splitlines(), 1) if "code: service_attitude" in t and i > line
    )
    file = tmp_path / "causes.yaml"
    file.write_text(text)
    env = {**os.environ, "LEDGER_TAXONOMY_FILE": str(file)}
    done = subprocess.run(
        [sys.executable, "-m", "services.ledger"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{file} line {line}: root_causes.3.code: " in done.stderr
    assert "the code 'service_attitude' appears twice" in done.stderr
