"""Schemathesis over every operation of every service, as an outside tester would: the
services run as real processes on fresh databases and this run's topics; each operation gets
valid and invalid input (schemathesis' positive and negative modes), with the service's
credentials and without them. Any 5xx fails, and so does a status the operation's OpenAPI
document does not list.

Bounded: FUZZ_EXAMPLES examples per operation, mode and credential (default 12), no
deadline per example (nothing here is timed)."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.web.pagination import encode_cursor
from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
JSON = "application/json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# What a caller with the service's credentials sends; the same operation is also fuzzed
# without them (schemathesis then makes up the credential headers itself).
CREDENTIALS = {
    "intake": {"X-API-Key": INTAKE_KEYS["web"]},
    "escalation": {"Authorization": f"Bearer {OPS_TOKENS['admin']}"},
    "followup": {"Authorization": f"Bearer {OPS_TOKENS['admin']}"},
    "satisfaction": {"Authorization": f"Bearer {OPS_TOKENS['admin']}"},
    "notify": {"Authorization": f"Bearer {OPS_TOKENS['admin']}"},
    "ledger": {"Authorization": f"Bearer {OPS_TOKENS['admin']}"},
}

# What a service needs beyond the common environment to start at all.
SERVICE_ENV = {"notify": {"NOTIFY_WEBHOOK_SECRET": "fuzz-webhook-secret-0123456789"}}


@dataclass
class Findings:
    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz(base_url: str, credentials: dict[str, str]) -> Findings:
    """Every operation of the service at ``base_url``, both modes, with and without
    ``credentials``. Blocking (schemathesis' transport is synchronous)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    found = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        found.operations += 1
        for headers in (credentials, {}):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                label = (
                    f"{operation.label} ({mode.value}, "
                    f"{'with' if headers else 'without'} credentials)"
                )
                try:
                    _run(operation, mode, headers, base_url, found)
                except hypothesis.errors.Unsatisfiable:
                    pass  # no input to make invalid (GET /healthz)
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis' report
                    found.failures.append(f"{label}: {exc}")
    return found


def _run(operation, mode, headers, base_url: str, found: Findings) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def test(case) -> None:
        found.requests += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    test()


# The classes of input the outside test found giving 500s, each sent to a real process:
# (method, path, JSON text or None, the field the 422 must name).
CURSOR_YEAR_1 = encode_cursor(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), uuid.uuid4())
CURSOR_BIG_INT = encode_cursor(datetime(2026, 11, 25, tzinfo=UTC), 2**70, uuid.uuid4())
SOME_ID = "5f0c1d2e-8a44-4c1b-9a57-0d6a3c1e2f10"
COMPLAINT = (
    '{"customer": {"id": "c-1", "name": %s, "phone": %s, "tier": "A"}, '
    '"category": "delivery", "description": %s, '
    '"expected_outcome": {"kind": "refund", "amount": %s}}'
)


def complaint(name='"Li Na"', phone='"+86 10 6552 9988"', description='"late"', amount="1"):
    return COMPLAINT % (name, phone, description, amount)


HOSTILE = {
    "intake": [
        ("POST", "/complaints", complaint(description='"a\\u0000b"'), ["body", "description"]),
        ("POST", "/complaints", complaint(name='"\\ud800"'), ["body", "customer", "name"]),
        ("POST", "/complaints", complaint(amount="NaN"), ["body", "expected_outcome", "amount"]),
        ("POST", "/complaints", complaint(amount="1e400"), ["body", "expected_outcome", "amount"]),
        ("POST", "/complaints", complaint(amount="-Infinity"), ["body", "expected_outcome"]),
        ("GET", "/complaints?customer=%00", None, ["query", "customer"]),
        ("GET", f"/complaints?cursor={CURSOR_YEAR_1}", None, ["query", "cursor"]),
        ("GET", "/complaints/%00", None, ["path", "complaint_id"]),
        ("GET", "/readyz?only=%00", None, ["query", "only"]),
    ],
    "escalation": [
        ("GET", "/stats/sla?to=0.5", None, ["query", "to"]),
        ("GET", "/stats/sla?to=0001-01-01T00:00:00", None, ["query", "to"]),
        ("GET", "/stats/sla?from=9999-12-31T23:59:59-14:00", None, ["query", "from"]),
        ("GET", f"/cases?cursor={CURSOR_YEAR_1}", None, ["query", "cursor"]),
        ("GET", "/cases?level=%00", None, ["query", "level"]),
        ("POST", f"/cases/{SOME_ID}/escalate", '{"reason": "x\\u0000"}', ["body", "reason"]),
        ("POST", f"/cases/{SOME_ID}/escalate", '{"reason": NaN}', ["body", "reason"]),
    ],
    "followup": [
        ("GET", "/callbacks?due_before=0001-01-01T00:00:00%2B05:00", None, ["query", "due_before"]),
        ("GET", "/callbacks?due_before=0.5", None, ["query", "due_before"]),
        ("GET", f"/callbacks?cursor={CURSOR_BIG_INT}", None, ["query", "cursor"]),
        ("GET", "/customers/%00/tiers", None, ["path", "customer_id"]),
        ("GET", "/stats/sla?since=9999-12-31T23:00:00-14:00", None, ["query", "since"]),
        ("POST", f"/callbacks/{SOME_ID}/reschedule", '{"due_at": 0.5}', ["body", "due_at"]),
        ("POST", f"/callbacks/{SOME_ID}/outcome", '{"reached": true, "note": "\\u0000"}',
         ["body", "note"]),
    ],
    "satisfaction": [
        ("GET", "/reports/summary?to=0001-01-01", None, ["query", "to"]),
        ("GET", "/reports/summary?to=0.5", None, ["query", "to"]),
        ("GET", "/reports/trend?interval=month&from=9998-06-01&to=9999-12-31", None,
         ["query", "to"]),
        ("POST", "/surveys", f'{{"complaint_id": "{SOME_ID}", "level": true}}', ["body", "level"]),
        ("POST", "/surveys/%00", '{"level": 5}', ["path", "token"]),
        ("POST", "/surveys/some-token", '{"level": 5, "comment": "\\ud800"}', ["body", "comment"]),
        ("POST", "/surveys/some-token", '{"level": NaN}', ["body", "level"]),
    ],
}  # fmt: skip


async def hostile_inputs_are_422s(base_url: str, service: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for method, path, body, loc in HOSTILE.get(service, []):
            for headers in (CREDENTIALS[service], {}):
                answer = await client.request(
                    method, path, content=body, headers=headers | {"content-type": JSON}
                )
                named = (
                    [e["loc"] for e in answer.json()["detail"]] if answer.status_code == 422 else []
                )
                if headers or answer.status_code != 401:  # without a credential: 401 or 422
                    # A union names the member too: ["body", "level", "int"].
                    assert answer.status_code == 422 and loc in [n[: len(loc)] for n in named], (
                        method, path, body, answer.status_code, answer.text
                    )  # fmt: skip


async def an_unreadable_body_is_a_documented_400(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        answer = await client.post(
            "/complaints",
            content=b'{"description": "\xff\xfe"}',
            headers=CREDENTIALS["intake"] | {"content-type": JSON},
        )
        assert answer.status_code == 400
        documented = (await client.get("/openapi.json")).json()
        assert "400" in documented["paths"]["/complaints"]["post"]["responses"]
        # The format the phone number error message names is accepted.
        answer = await client.post(
            "/complaints",
            content=complaint(phone='"(010) 6552-9988"'),
            headers=CREDENTIALS["intake"] | {"content-type": JSON},
        )
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("service", list(CREDENTIALS))
async def test_any_input_gets_a_2xx_or_a_documented_4xx_never_a_5xx(start_service, service):
    """One process per service: the hostile inputs first, then schemathesis."""
    process = await start_service(service, **SERVICE_ENV.get(service, {}))
    await hostile_inputs_are_422s(process.url, service)
    if service == "intake":
        await an_unreadable_body_is_a_documented_400(process.url)
    found = await asyncio.to_thread(fuzz, process.url, CREDENTIALS[service])
    assert found.operations > 0
    assert not found.failures, (
        f"{len(found.failures)} failing operation runs of {service} "
        f"({found.requests} requests):\n\n" + "\n\n".join(found.failures)
    )
