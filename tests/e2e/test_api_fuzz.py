"""Schemathesis over every operation of every service, as an outside tester would: the
services run as real processes on fresh databases and this run's topics; each operation gets
valid and invalid input (schemathesis' positive and negative modes), with the service's
credentials and without them. Any 5xx fails, and so does a status the operation's OpenAPI
document does not list.

Bounded: FUZZ_EXAMPLES examples per operation, mode and credential (default 20), no
deadline per example (nothing here is timed)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

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

from tests.e2e.conftest import INTAKE_KEYS, OPS_TOKENS

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
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
}


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
                except Exception as exc:  # a failed check, with schemathesis' report
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


@pytest.mark.parametrize("service", list(CREDENTIALS))
async def test_no_input_gets_a_5xx_or_an_undocumented_status(start_service, service):
    process = await start_service(service)
    found = await asyncio.to_thread(fuzz, process.url, CREDENTIALS[service])
    assert found.operations > 0
    assert not found.failures, (
        f"{len(found.failures)} failing operation runs of {service} "
        f"({found.requests} requests):\n\n" + "\n\n".join(found.failures)
    )
