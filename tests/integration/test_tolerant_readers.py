"""Readers are tolerant: every service's own consumer (as its app wires it) processes an event
carrying fields it does not know, in ``data`` and in the envelope (a producer upgraded
first), instead of parking it."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.escalation import app as escalation_app
from services.escalation.policy_file import load_policy
from services.escalation.settings import EscalationSettings
from services.escalation.usecases import Escalation
from services.followup import app as followup_app
from services.followup.callbacks import Deps
from services.followup.domain.policy import load_policy as load_followup_policy
from services.followup.settings import FollowupSettings
from services.intake import app as intake_app
from services.intake.settings import IntakeSettings
from services.satisfaction import app as satisfaction_app
from services.satisfaction.settings import SatisfactionSettings
from shared.events.envelope import Envelope
from shared.messaging.consumer import ConsumerRunner
from shared.runtime import Runtime
from tests.integration.test_consumer_runner import produce, run_until
from tests.integration.test_escalation import received
from tests.integration.test_followup import resolved


def upgraded(event: Envelope) -> Envelope:
    """The same event as a newer producer would send it: an extension attribute on the
    envelope and a field this version of the contract does not have."""
    body = event.to_json()
    body["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body["data"] = body["data"] | {"loyalty_points": 1200, "source_system": {"name": "crm"}}
    return Envelope.model_validate(body)


def runner_of(tasks: list) -> ConsumerRunner:
    [runner] = [t.__self__ for t in tasks if isinstance(getattr(t, "__self__", None),
                                                        ConsumerRunner)]  # fmt: skip
    return runner


def escalation(runtime: Runtime) -> ConsumerRunner:
    policy = load_policy(runtime.settings.policy_file)  # type: ignore[attr-defined]
    use = Escalation(runtime.sessions, runtime.topics, policy)
    return runner_of(escalation_app.background_tasks(use)(runtime))


def followup(runtime: Runtime) -> ConsumerRunner:
    policy = load_followup_policy(runtime.settings.policy_file)  # type: ignore[attr-defined]
    return runner_of(followup_app.tasks_for(Deps(topics=runtime.topics, policy=policy))(runtime))


def intake_status_event(complaint_id: uuid.UUID) -> Envelope:
    return Envelope(
        source="/test/escalation",
        type="case.acknowledged",
        subject=str(complaint_id),
        data={"complaint_id": str(complaint_id), "at": datetime.now(UTC).isoformat(), "by": "x"},
    )


CASES = {
    "intake": (IntakeSettings, {"api_keys": "web:web-key-0123456789"},
               lambda rt: runner_of(intake_app.background_tasks(rt)), intake_status_event, None),
    "escalation": (EscalationSettings, {}, escalation, lambda cid: received(complaint_id=cid),
                   "SELECT count(*) FROM cases WHERE complaint_id = :id"),
    "followup": (FollowupSettings, {}, followup, resolved,
                 "SELECT count(*) FROM callbacks WHERE complaint_id = :id"),
    "satisfaction": (SatisfactionSettings, {},
                     lambda rt: runner_of(satisfaction_app.background_tasks(rt)),
                     lambda cid: received(complaint_id=cid),
                     "SELECT count(*) FROM facts WHERE complaint_id = :id AND channel IS NOT NULL"),
}  # fmt: skip


@pytest.mark.parametrize("service", list(CASES))
async def test_an_event_with_unknown_fields_is_processed(
    service, servers, databases, fresh_topic, caplog
):
    settings_cls, extra, build, make_event, effect = CASES[service]
    settings = settings_cls(
        database_url=await databases.create(service),
        kafka_bootstrap_servers=servers.kafka_bootstrap,
        consumer_group=f"tolerant-{uuid.uuid4().hex[:8]}",
        db_pool_size=4,
        **extra,
    )
    runtime = Runtime.build(settings)
    runner = build(runtime)
    runner.topics = [fresh_topic]  # this test's records only
    complaint_id = uuid.uuid4()
    event = upgraded(make_event(complaint_id))
    assert "loyalty_points" in event.data and event.model_extra  # really carries extras
    await produce(servers.kafka_bootstrap, fresh_topic, [(event.subject, event.to_bytes())])
    caplog.set_level(logging.INFO)

    async def processed() -> bool:
        async with runtime.engine.connect() as conn:
            return bool(
                await conn.scalar(
                    sa.text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event.id}
                )
            )

    try:
        await run_until(runner, processed)
        async with runtime.engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT count(*) FROM parked_events")) == 0
            if effect is not None:
                assert await conn.scalar(sa.text(effect), {"id": complaint_id}) == 1
    finally:
        await runtime.kafka.close()
        await runtime.engine.dispose()
    if service == "escalation":
        # The case-opened line keeps its own severity; the case's rung has its own key.
        [opened] = [r for r in caplog.records if r.getMessage() == "case opened"]
        assert opened.levelname == "INFO" and opened.rung == "frontline"
