"""People in the loop, with real processes: the development issuer serving its JWKS, intake
and escalation trusting it (AUTH_JWKS_URL), on a policy where a minute is a tenth of a second.

An on-site complaint at store 1 nobody takes climbs team lead -> supervisor -> customer
relations, and ``case.assigned`` names the team serving each rung exactly once; a remote one,
taken by a front-line agent and forwarded, lands in the other department's queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.dev_issuer import Issuer
from shared.directory import DEMO_DIRECTORY, load_directory
from tests.e2e.conftest import INTAKE_KEYS
from tests.e2e.test_escalation import distinct
from tests.support.kafka import read_until
from tests.support.processes import free_port
from tests.support.servers import ROOT
from tests.support.waiting import eventually

AUDIENCE = "complaint-platform-e2e"
# The on-site ladder of DOMAIN.md, a minute being 0.1 s: the team lead at once, 15 minutes,
# then 30, then an hour.
POLICY = """
version: "e2e-people"
levels: [frontline, team_lead, supervisor, customer_relations, department_manager,
         executive_office]
ceiling: {general: department_manager, major: executive_office}
warn_at: [0.8]
modes:
  on_site:
    start: {general: frontline, major: supervisor}
    climb: {frontline: 0s, team_lead: 1.5s, supervisor: 3s, customer_relations: 6s,
            department_manager: 6s}
    climb_until: plan
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge, escalate: false}
      respond: {within: 1h, met_by: plan, escalate: false}
  remote:
    start: {general: frontline, major: customer_relations}
    clocks:
      acknowledge: {within: 1h, met_by: acknowledge}
      investigate: {within: 1d, met_by: investigate}
      plan: {within: 2d, met_by: plan}
"""


class DevIssuer:
    def __init__(self, folder: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.issuer = Issuer.load_or_create(folder, self.url, AUDIENCE)
        self.staff = load_directory(DEMO_DIRECTORY)

    def headers(self, person_id: str, **claims) -> dict[str, str]:
        person = self.staff.person(person_id)
        assert person is not None
        token = self.issuer.mint(person.id, name=person.name, roles=list(person.roles), **claims)
        return {"Authorization": f"Bearer {token}"}

    def env(self) -> dict[str, str]:
        return {
            "AUTH_ISSUER": self.url,
            "AUTH_AUDIENCE": AUDIENCE,
            "AUTH_JWKS_URL": f"{self.url}/.well-known/jwks.json",
            "AUTH_PUBLIC_KEY_FILE": "",
        }


@pytest.fixture
def dev_issuer(tmp_path) -> Iterator[DevIssuer]:
    """``python -m shared.dev_issuer serve`` as a process, its keys in a folder of this test."""
    port = free_port()
    folder = tmp_path / "issuer"
    env = {**os.environ, "AUTH_ISSUER": f"http://127.0.0.1:{port}", "AUTH_AUDIENCE": AUDIENCE}
    log = (tmp_path / "issuer.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.dev_issuer", "serve", "--folder", str(folder),
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(150):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "issuer.log").read_text()
            time.sleep(0.2)
        yield DevIssuer(folder, port)
    finally:
        proc.terminate()
        proc.wait(10)


def assignments(events: list[dict]) -> list[tuple[str, str | None, str | None, str]]:
    return [(e["data"]["rung"], e["data"]["team"], e["data"]["assignee"], e["data"]["reason"])
            for e in events if e["type"] == "case.assigned"]  # fmt: skip


async def test_an_unattended_on_site_complaint_is_handed_up_team_by_team(
    start_service, servers, topics, tmp_path, dev_issuer
):
    (tmp_path / "policy.yaml").write_text(POLICY)
    intake = await start_service("intake")
    escalation = await start_service(
        "escalation", ESCALATION_POLICY_FILE=str(tmp_path / "policy.yaml"), **dev_issuer.env()
    )
    async with httpx.AsyncClient(timeout=15) as http:
        body = {
            "customer": {"name": "Zhou Jie", "phone": "+86 137 5555 0000", "tier": "B"},
            "category": "service_attitude",
            "description": "Nobody at the counter would help me.",
            "subject": {"kind": "site", "reference": "store-1"},
        }
        posted = await http.post(f"{intake.url}/complaints", json=body,
                                 headers={"X-API-Key": INTAKE_KEYS["counter"]})  # fmt: skip
        assert posted.status_code == 201, posted.text
        cid = posted.json()["complaint_id"]

        def reached_customer_relations(records) -> bool:
            return any(r[0] == "customer_relations" for r in assignments(distinct(records)))

        records = await read_until(
            servers.kafka_bootstrap, topics.handling, reached_customer_relations,
            lambda r: r.key == cid, 60,
        )  # fmt: skip
        found = assignments(distinct(records))
        assert found == [
            ("frontline", "store1-frontline", None, "opened"),
            ("team_lead", "store1-team-leads", None, "escalated"),
            ("supervisor", "store1-duty", None, "escalated"),
            ("customer_relations", "customer-relations", None, "escalated"),
        ]
        assert all(n == 1 for n in Counter(r[0] for r in found).values())
        # Each assignment follows the climb it comes from, on time.
        climbs = [e for e in distinct(records) if e["type"] == "case.escalated"]
        assert [c["data"]["to_level"] for c in climbs] == [
            "team_lead", "supervisor", "customer_relations"
        ]  # fmt: skip

        # The queue of customer relations holds it; the case says who owns it.
        officer = dev_issuer.headers("relations-chen")
        queue = await http.get(f"{escalation.url}/cases",
                               params={"team": "customer-relations"}, headers=officer)  # fmt: skip
        assert queue.status_code == 200, queue.text
        assert cid in {c["complaint_id"] for c in queue.json()["items"]}
        # Tokens the issuer did not sign for this audience, or that expired, are refused.
        expired = dev_issuer.headers("relations-chen", ttl=timedelta(seconds=-60))
        assert (await http.get(f"{escalation.url}/cases", headers=expired)).status_code == 401
        stranger = Issuer.generate(dev_issuer.url, AUDIENCE).mint("admin-ops", roles=["admin"])
        refused = await http.get(f"{escalation.url}/cases",
                                 headers={"Authorization": f"Bearer {stranger}"})  # fmt: skip
        assert refused.status_code == 401


async def test_a_forwarded_case_lands_in_the_other_departments_queue(
    start_service, servers, topics, tmp_path, dev_issuer
):
    intake = await start_service("intake")
    escalation = await start_service("escalation", **dev_issuer.env())
    li, gao = dev_issuer.headers("frontline-li"), dev_issuer.headers("manager-gao")
    async with httpx.AsyncClient(timeout=15) as http:
        body = {
            "customer": {"name": "Wu Lan", "phone": "+86 138 6666 1111", "tier": "C"},
            "category": "product_quality",
            "description": "The sofa I bought has a broken leg.",
        }
        posted = await http.post(f"{intake.url}/complaints", json=body,
                                 headers={"X-API-Key": INTAKE_KEYS["web"]})  # fmt: skip
        assert posted.status_code == 201, posted.text
        cid = posted.json()["complaint_id"]
        case_url = f"{escalation.url}/cases/{cid}"

        async def opened():
            answer = await http.get(case_url, headers=li)
            return answer.json() if answer.status_code == 200 and answer.json()["team"] else None

        case = await eventually(opened)
        assert case["team"] == "remote-desk"
        taken = await http.post(f"{case_url}/take", headers=li)
        assert taken.status_code == 200, taken.text
        answer_by = datetime.now(UTC) + timedelta(hours=24)
        forwarded = await http.post(
            f"{case_url}/forward",
            json={"to_team": "dept-furniture", "reason": "furniture, not appliances",
                  "answer_by": answer_by.isoformat()},
            headers=li,
        )  # fmt: skip
        assert forwarded.status_code == 200, forwarded.text

        queue = await http.get(f"{escalation.url}/cases", params={"team": "dept-furniture"},
                               headers=gao)  # fmt: skip
        assert [c["complaint_id"] for c in queue.json()["items"]] == [cid]
        mine = await http.get(f"{escalation.url}/cases", params={"assignee": "me"}, headers=li)
        assert cid not in {c["complaint_id"] for c in mine.json()["items"]}

        def forwarded_seen(records) -> bool:
            # Both events of the forward: they may arrive in different fetches.
            events = distinct(records)
            return any(e["type"] == "case.forwarded" for e in events) and any(
                a[3] == "forwarded" for a in assignments(events)
            )

        records = await read_until(servers.kafka_bootstrap, topics.handling, forwarded_seen,
                                   lambda r: r.key == cid, 30)  # fmt: skip
        events = distinct(records)
        (event,) = [e["data"] for e in events if e["type"] == "case.forwarded"]
        assert (event["from_team"], event["to_team"]) == ("remote-desk", "dept-furniture")
        assert (event["by"], event["by_name"]) == ("frontline-li", "Li Wei")
        assert datetime.fromisoformat(event["answer_by"]) == answer_by
        assert assignments(events)[-2:] == [
            ("frontline", "remote-desk", "frontline-li", "taken"),
            ("frontline", "dept-furniture", None, "forwarded"),
        ]


@pytest.mark.parametrize(
    ("directory", "env", "expected"),
    [
        (
            "people: []\nteams:\n  - id: t\n    name: T\n    rung: floor_manager\n",
            {},
            "line 5: teams.0.rung: unknown rung 'floor_manager'",
        ),
        (None, {"OPS_TOKENS": "supervisor:T1"}, "OPS_TOKENS: 'supervisor' is not a person"),
    ],
)
def test_a_bad_staff_directory_or_dev_token_stops_the_service(tmp_path, directory, env, expected):
    if directory is not None:
        (tmp_path / "staff.yaml").write_text(directory)
        env = env | {"STAFF_DIRECTORY_FILE": str(tmp_path / "staff.yaml")}
    done = subprocess.run(
        [sys.executable, "-m", "services.escalation"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
