"""All four services as real processes: complaints taken through intake, escalation and
follow-up to answered surveys produce exactly the hand-computed report; the documented
rebuild command, run on the stopped service's database, gives the same figures.

C1 web/billing/A        acknowledged at once, resolved; call-back satisfied; customer answers
                        "very satisfied" (speed)
C2 hotline/quality/C    acknowledge clock breached (escalated to team_lead), then resolved;
                        call-back satisfied; customer answers 2 (speed, communication)
C3 web/delivery/B       resolved; call-back not satisfied -> reopened, resolved again;
                        call-back satisfied; an agent records "satisfied" (solution) by phone
C4 web/billing/C        never handled: its acknowledge clock breaches too (team_lead)

R web/billing/C         expects damages: rejected (a claim for damages)
K                       an A customer dropping to B: a retention call, reached, satisfied

Hand-computed: complaints 4, reopened 1 (C3), resolved 3 of which timely 2 (C1, C3), in their
first cycle 2 (C1, C2: first-contact resolution 2/3), C3 in its second; surveys
requested 3 and answered 3, answers 6/5/2 -> satisfaction 2/3, dissatisfaction 1/3; SLA met:
2 answers 100 %, missed: 1 answer 0 %; low factors communication 1, speed 1, high solution 1,
speed 1; pyramid 4 x 24 = 96; retention 2 x .82 + .54 + .19 = 2.37 -> .5925. Timely
handling counts C4 (open, breached): 2 of 4. Churn .02 + .10 + .40; rejected 1 (damages);
expected kind: C1 the same, C3 another; 1 retention call A -> B, reached and satisfied.
Times to resolve come from the published events (received_at to the last case.resolved)."""

from __future__ import annotations

import asyncio
import math
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from services.satisfaction.domain.contribution import resolve_bucket
from shared.events.activity import ActivityCustomer, ActivityKind, CustomerActivity
from shared.events.envelope import new_event
from shared.events.notify import SurveyInvited
from shared.events.topics import Topics
from shared.events.versions import token_sha256
from shared.messaging.admin import ensure_topics
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS
from tests.e2e.satisfaction.browser import dump_dom, rendered_charts
from tests.e2e.test_followup import produce
from tests.support.kafka import read_until
from tests.support.servers import ROOT
from tests.support.topics import delete_topics_with_prefix
from tests.support.waiting import eventually
from tests.unit.satisfaction.scenario import EXPECTED_OVERALL, check_overall

AGENT = {"Authorization": f"Bearer {OPS_TOKENS['agent']}"}
ACK_SECONDS = 8

ESCALATION_POLICY = f"""
version: "e2e-satisfaction"
levels: [frontline, team_lead, supervisor, customer_relations, department_manager,
         executive_office]
ceiling: {{general: department_manager, major: executive_office}}
warn_at: [0.8]
modes:
  on_site:
    start: {{general: frontline, major: supervisor}}
    climb: {{frontline: 0s, team_lead: 1h, supervisor: 1h, customer_relations: 1h,
             department_manager: 1h}}
    climb_until: plan
    clocks:
      acknowledge: {{within: {ACK_SECONDS}s, met_by: acknowledge, escalate: false}}
      respond: {{within: 1h, met_by: plan, escalate: false}}
  remote:
    start: {{general: frontline, major: customer_relations}}
    clocks:
      acknowledge: {{within: {ACK_SECONDS}s, met_by: acknowledge}}
      investigate: {{within: 1h, met_by: investigate}}
      plan: {{within: 1h, met_by: plan}}
"""

FOLLOWUP_POLICY = """
version: e2e-satisfaction
callback:
  after_resolution: 1s
  tier_factors: {VIP: 0.5, A: 0.5}
  major_factor: 0.5
  remedial_after: 0.5s
  overdue_after: 1h
attempts: {max: 3, spacing: [1s]}
retention: {tiers: {A: 11, B: 6, C: 1}, review_grace: 1s, after_drop: 1h}
"""


def visits(customer: str, before: int, last: int) -> list:
    """A customer's visits the month before last and last month (follow-up's tier input)."""
    now = datetime.now(UTC)
    this_month = date(now.year, now.month, 1)
    last_month = date(this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 1)
    earlier = date(last_month.year - (last_month.month == 1), (last_month.month - 2) % 12 + 1, 1)
    return [
        new_event("/e2e/tills", customer, CustomerActivity(
            customer=ActivityCustomer(id=customer, name="孙丽", phone="13900000009"),
            kind=ActivityKind.PURCHASE, at=datetime(m.year, m.month, day, 11, tzinfo=UTC),
        ))
        for m, n in ((earlier, before), (last_month, last))
        for day in range(1, n + 1)
    ]  # fmt: skip


def value_of(record) -> dict:
    return record.value


@pytest.fixture
async def own_topics(servers) -> AsyncIterator[Topics]:
    """This test's topics, deleted at the end (set up before the services, so torn down
    after them)."""
    found = Topics(f"test-sat-all-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(servers.kafka_bootstrap, found.all(), partitions=3)
    yield found
    await delete_topics_with_prefix(servers.kafka_bootstrap, found.prefix)


async def test_complaints_to_answered_surveys_give_the_hand_computed_report(
    own_topics, start_service, servers, tmp_path
):
    topics = own_topics
    (tmp_path / "escalation.yaml").write_text(ESCALATION_POLICY)
    (tmp_path / "followup.yaml").write_text(FOLLOWUP_POLICY)
    mine = {"KAFKA_TOPIC_PREFIX": topics.prefix}
    intake = await start_service("intake", **mine)
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "escalation.yaml"), **mine
    )
    followup = await start_service(
        "followup", FOLLOWUP_POLICY_FILE=str(tmp_path / "followup.yaml"), **mine
    )
    satisfaction = await start_service("satisfaction", **mine)

    async with httpx.AsyncClient(timeout=10) as http:

        async def submit(
            channel: str, category: str, tier: str, name: str, expects: str | None = None
        ) -> str:
            answer = await http.post(
                f"{intake.url}/complaints",
                headers={"X-API-Key": INTAKE_KEYS[channel]},
                json={
                    "customer": {"id": f"cust-{name}", "name": name, "phone": "+86 138 0000 0000",
                                 "tier": tier},
                    "category": category,
                    "description": "送货晚了三天，客服也没回电话",
                } | ({"expected_outcome": {"kind": expects}} if expects else {}),
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
            return answer.json()["complaint_id"]

        async def case(cid: str) -> dict | None:
            answer = await http.get(f"{escalation.url}/cases/{cid}", headers=AGENT)
            return answer.json() if answer.status_code == 200 else None

        async def case_in(cid: str, *statuses: str, round: int = 1) -> dict | None:
            found = await case(cid)
            return (
                found if found and found["status"] in statuses and found["round"] == round else None
            )

        async def handle(cid: str, round: int = 1, wait_for_breach: bool = False) -> None:
            await eventually(lambda: case_in(cid, "open", "reopened", round=round))
            if wait_for_breach:
                await eventually(lambda: _true_if(case(cid), lambda c: c["level"] == "team_lead"))
            acked = await http.post(f"{escalation.url}/cases/{cid}/acknowledge", json={},
                                    headers=AGENT)  # fmt: skip
            assert acked.status_code == 200, acked.text
            done = await http.post(f"{escalation.url}/cases/{cid}/resolve",
                                   json={"resolution": "refunded", "resolution_kind": "refund"},
                                   headers=AGENT)  # fmt: skip
            assert done.status_code == 200, done.text

        async def call_back(cid: str, round: int, satisfied: bool) -> None:
            async def due():
                answer = await http.get(f"{followup.url}/callbacks",
                                        params={"complaint_id": cid}, headers=AGENT)  # fmt: skip
                found = [c for c in answer.json()["items"]
                         if c["round"] == round and c["state"] == "due"]  # fmt: skip
                return found[0] if found else None

            callback = await eventually(due)
            answer = await http.post(
                f"{followup.url}/callbacks/{callback['callback_id']}/outcome",
                json={"reached": True, "satisfied": satisfied}, headers=AGENT,
            )  # fmt: skip
            assert answer.status_code == 200, answer.text

        # The two meant to breach first: once escalation has opened their cases its consumer
        # is running, so the two meant to be on time do not lose their seconds to start-up.
        c2 = await submit("hotline", "product_quality", "C", "李雷")
        c4 = await submit("web", "billing", "C", "赵敏")
        await eventually(lambda: case(c2))
        c1 = await submit("web", "billing", "A", "王芳", expects="refund")
        c3 = await submit("web", "delivery", "B", "张伟", expects="exchange")
        # R: a claim for damages is outside the commitments: recorded, rejected, counted apart.
        rejected = await submit("web", "billing", "C", "钱多", expects="damages")
        # K: an A customer who came 12 days the month before last and 7 last month drops to
        # B: follow-up schedules a retention call; the agent reaches a satisfied customer.
        await produce(servers.kafka_bootstrap, topics.activity, visits("cust-K", 12, 7))
        await asyncio.gather(handle(c1), handle(c3), handle(c2, wait_for_breach=True))
        await asyncio.gather(
            call_back(c1, 1, True),
            call_back(c2, 1, True),
            call_back(c3, 1, False),
        )
        await handle(c3, round=2)
        await call_back(c3, 2, True)

        async def retention_call():
            answer = await http.get(f"{followup.url}/callbacks", params={"kind": "retention"},
                                    headers=AGENT)  # fmt: skip
            found = [c for c in answer.json()["items"] if c["customer"]["id"] == "cust-K"]
            return found[0] if found else None

        call = await eventually(retention_call)
        reached = await http.post(
            f"{followup.url}/callbacks/{call['callback_id']}/outcome",
            json={"reached": True, "satisfied": True}, headers=AGENT,
        )  # fmt: skip
        assert reached.status_code == 200, reached.text
        assert (await case(c4))["level"] == "team_lead"  # its clock breached meanwhile

        surveys = await read_until(
            servers.kafka_bootstrap, topics.followup,
            lambda kept: {r.key for r in kept} >= {c1, c2, c3},
            lambda r: r.value.get("type") == "survey.requested", timeout=60,
        )  # fmt: skip
        requested = {r.key: r.value["data"] for r in surveys}
        assert all("survey_token" not in data for data in requested.values())
        assert {k: d["cycle"] for k, d in requested.items()} == {c1: 1, c2: 1, c3: 2}
        # The notification service (not running here) makes each token and publishes its
        # hash in survey.invited: the test does what it would, with tokens of its own.
        token = {cid: secrets.token_urlsafe(24) for cid in requested}
        await produce(
            servers.kafka_bootstrap,
            topics.notify,
            [
                new_event(
                    "/e2e/notify",
                    cid,
                    SurveyInvited(
                        survey_id=data["survey_id"], complaint_id=cid,
                        token_sha256=token_sha256(token[cid]),
                        expires_at=datetime.now(UTC) + timedelta(days=14),
                        at=datetime.now(UTC),
                    ),
                )
                for cid, data in requested.items()
            ],
        )  # fmt: skip
        s = satisfaction.url

        async def survey_known(cid: str):
            # The token works once satisfaction consumed survey.invited: until then, 404.
            probe = await http.get(f"{s}/surveys/{token[cid]}")
            return probe.status_code == 200 and probe.json()["status"] == "open"

        for cid in (c1, c2):
            await eventually(lambda cid=cid: survey_known(cid))
        first = await http.post(f"{s}/surveys/{token[c1]}",
                                json={"level": "Very satisfied", "factors": ["speed"]})  # fmt: skip
        assert first.status_code == 201, first.text
        low = {"level": 2, "factors": ["speed", "communication"], "comment": "处理太慢，没人通知我"}
        second = await http.post(f"{s}/surveys/{token[c2]}", json=low)
        assert second.status_code == 201, second.text
        assert (await http.post(f"{s}/surveys/{token[c2]}", json={"level": 6})).status_code == 409
        assert (await http.get(f"{s}/surveys/{token[c2]}")).json()["status"] == "answered"
        await eventually(lambda: survey_known(c3))
        by_phone = await http.post(
            f"{s}/surveys", headers=AGENT,
            json={"complaint_id": c3, "level": "satisfied", "factors": ["solution"]},
        )  # fmt: skip
        assert by_phone.status_code == 201, by_phone.text
        assert by_phone.json()["cycle"] == 2
        # A second answer for C3's cycle, by another agent: refused, naming the first.
        twice = await http.post(
            f"{s}/surveys", headers=AGENT, json={"complaint_id": c3, "level": "neutral"}
        )
        assert twice.status_code == 409
        assert twice.json()["detail"]["first_answer"]["answer_id"] == by_phone.json()["answer_id"]
        # Its survey link is used up too.
        assert (await http.get(f"{s}/surveys/{token[c3]}")).json()["status"] == "answered"

        # Follow-up reads survey.recorded: a remedial call-back for the dissatisfied answer.
        async def remedial():
            answer = await http.get(f"{followup.url}/callbacks", params={"complaint_id": c2},
                                    headers=AGENT)  # fmt: skip
            return [c for c in answer.json()["items"] if c["kind"] == "remedial"]

        await eventually(remedial)

        # What upstream published decides the times to resolve.
        intake_events = await read_until(
            servers.kafka_bootstrap, topics.intake, lambda kept: len(kept) >= 4,
            lambda r: r.value.get("type") == "complaint.received",
        )  # fmt: skip
        received = {r.key: _ts(r.value["data"]["received_at"]) for r in intake_events}
        resolutions = await read_until(
            servers.kafka_bootstrap, topics.handling,
            lambda kept: len({r.value["id"] for r in kept}) >= 4,
            lambda r: r.value.get("type") == "case.resolved",
        )  # fmt: skip
        resolved_at: dict[str, datetime] = {}
        for r in resolutions:
            at = _ts(r.value["data"]["at"])
            resolved_at[r.key] = max(resolved_at.get(r.key, at), at)
        seconds = [(resolved_at[c] - received[c]).total_seconds() for c in (c1, c2, c3)]
        expected = EXPECTED_OVERALL | {
            "surveys_requested": 3, "surveys_answered": 3, "response_rate": 1.0, "answers": 3,
            "answers_by_level": {"very_satisfied": 1, "satisfied": 1, "neutral": 0,
                                 "resigned": 0, "dissatisfied": 1, "very_dissatisfied": 0},
            "satisfaction_rate": 2 / 3, "dissatisfaction_rate": 1 / 3,
            "sla_met": (2, 1.0), "sla_missed": (1, 0.0),
            "factors_low": [("communication", 1), ("speed", 1)],
            "factors_high": [("solution", 1), ("speed", 1)],
            # C4 is open with its acknowledge clock breached: timely handling counts it.
            "timely_handling_rate": 2 / 4,
            "mean_time_to_resolve_seconds": sum(round(x * 1000) for x in seconds) / 3 / 1000,
            "p90_time_to_resolve_seconds": resolve_bucket(max(seconds)),
        }  # fmt: skip
        today = datetime.now(UTC).date()
        period = {"from": str(today - timedelta(days=1)), "to": str(today)}

        async def report(**params: str) -> dict:
            answer = await http.get(f"{s}/reports/summary", params=period | params, headers=AGENT)
            assert answer.status_code == 200, answer.text
            return answer.json()

        async def settled():
            found = (await report())["overall"]
            done = found["retention_calls"]["outcomes"]["reached_satisfied"] == 1
            return found if found["answers"] == 3 and found["resolved"] == 3 and done else None

        await eventually(settled)
        await asyncio.sleep(1)  # late duplicates, if any, must change nothing
        overall = (await report())["overall"]
        check_overall(overall, expected)
        assert overall["satisfaction_rate"]["meets_target"] is False
        assert overall["timely_handling_rate"]["meets_target"] is False
        assert math.isclose(overall["retention"]["expected_retention_rate"]["value"], 0.5925)
        channels = {g["value"]: g for g in (await report(group_by="channel"))["groups"]}
        assert set(channels) == {"web", "hotline"}
        assert channels["web"]["complaints"] == 3 and channels["web"]["answers"] == 2
        assert channels["web"]["satisfaction_rate"]["value"] == 1.0
        assert channels["hotline"]["satisfaction_rate"]["value"] == 0.0
        levels = {g["value"]: g["complaints"]
                  for g in (await report(group_by="escalation_level"))["groups"]}  # fmt: skip
        assert levels == {"frontline": 2, "team_lead": 2}
        tiers = {g["value"]: g["answers"] for g in (await report(group_by="tier"))["groups"]}
        assert tiers == {"A": 1, "B": 1, "C": 1}
        trend = (
            await http.get(f"{s}/reports/trend", params=period | {"interval": "day"}, headers=AGENT)
        ).json()
        assert [p["answers"] for p in trend["points"]][-1] == 3
        assert math.isclose(overall["first_contact_resolution_rate"]["value"], 2 / 3)
        assert overall["unresolved_breached"] == 1
        assert overall["rejections"]["rejected"] == 1 and rejected not in (c1, c2, c3, c4)
        assert overall["rejections"]["by_reason"]["damages_claim"] == 1
        # C1 expected a refund and got one; C3 expected an exchange and got a refund.
        expectation = overall["expectation"]
        assert (expectation["same_kind"], expectation["other_kind"]) == (1, 1)
        assert expectation["satisfaction"]["same_kind"]["answers"] == 1
        calls = overall["retention_calls"]
        assert calls["scheduled"] == 1 and calls["by_drop"][0]["from_tier"] == "A"
        assert calls["by_drop"][0]["to_tier"] == "B"
        churn = overall["projection"]["churn_by_level"]
        assert math.isclose(churn["expected_lost"], 0.02 + 0.10 + 0.40)  # answers 6, 5, 2
        away = overall["factor_analysis"]["drive_away"]
        assert away["answers"] == 1
        assert [(f["factor"], f["share_of_answers"]) for f in away["factors"]] == [
            ("communication", 1.0), ("speed", 1.0),
        ]  # fmt: skip
        assert [t["tier"] for t in overall["factor_analysis"]["by_tier"]] == ["A", "B", "C"]

        # The dashboard fetches its figures with the supervisor's token (from the fragment).
        dom = dump_dom(f"{s}/dashboard#token={OPS_TOKENS['supervisor']}")
        charts = rendered_charts(dom)
        assert charts["levels"] == 6 and charts["sla"] == 2 and charts["factors"] == 2
        assert charts["by-channel"] == 2 and charts["by-tier"] == 3
        assert charts["cycles"] == 4  # attempts 1, 2, 3, 4+
        assert "attempt 1: 2</title>" in dom and "attempt 2: 1</title>" in dom
        assert charts["churn"] == 6 and charts["returns"] == 4 and charts["pyramid"] == 3
        assert charts["factor-bands"] == 4 and charts["factors-by-tier"] == 4
        assert charts["rejections"] == 1 and charts["retention-calls"] == 1
        assert charts["expectation"] == 2
        assert "Source: DOMAIN.md" in dom and "seed 003" in dom
        denied = dump_dom(f"{s}/dashboard#token={OPS_TOKENS['agent']}")
        assert 'data-ready="denied"' in denied and "<svg" not in denied

        # The documented rebuild, on the stopped service's database, then the service again.
        live = {k: await report(group_by=k) for k in ("channel", "escalation_level", "tier")}
        satisfaction.stop()
        rebuilt = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "services.satisfaction", "rebuild"], cwd=ROOT,
            env=satisfaction.env | {"SATISFACTION_DATABASE_URL": satisfaction.database_url},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "rebuilt:" in rebuilt.stdout
        again = await start_service("satisfaction", database_url=satisfaction.database_url, **mine)
        s = again.url
        await asyncio.sleep(1)
        for k, before in live.items():
            assert await report(group_by=k) == before, k


async def _true_if(awaitable, test) -> bool:
    found = await awaitable
    return bool(found) and test(found)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
