"""The escalation ASGI application: the ops API, the intake and follow-up consumers, the
timer scheduler and the outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from services.escalation import erasure
from services.escalation.api import approvals as approvals_api
from services.escalation.api import directory as directory_api
from services.escalation.api.routes import router
from services.escalation.domain.policy import Policy
from services.escalation.policy_file import load_policy
from services.escalation.settings import EscalationSettings
from services.escalation.usecases import TIMER_KINDS, Escalation
from shared.directory import FOLLOWUP_RUNG, Directory, directory_file, load_directory
from shared.events.followup import ComplaintReopened, FollowupCompleted, FollowupUnreachable
from shared.events.intake import ComplaintCompleted, ComplaintReceived
from shared.runtime import Runtime, Task
from shared.web.app import service_app


def background_tasks(escalation: Escalation):
    def tasks(runtime: Runtime) -> list[Task]:
        consumer = runtime.consumer(
            [runtime.topics.intake, runtime.topics.followup],
            {
                ComplaintReceived.event_type: escalation.on_received,
                ComplaintCompleted.event_type: escalation.on_completed,
                ComplaintReopened.event_type: escalation.on_reopened,
                FollowupCompleted.event_type: escalation.on_followup_done,
                FollowupUnreachable.event_type: escalation.on_followup_done,
            }
            | erasure.handlers(runtime.topics),
            batch_handlers={ComplaintReceived.event_type: escalation.on_received_many},
        )
        scheduler = runtime.scheduler(dict.fromkeys(TIMER_KINDS, escalation.on_timer))
        return [
            runtime.relay().run,
            consumer.run,
            scheduler.run,
        ]

    return tasks


def load_staff(settings: EscalationSettings, policy: Policy) -> Directory:
    """The staff directory, every team's rung checked against the policy's ladder."""
    return load_directory(
        directory_file(settings.staff_directory_file), rungs=[*policy.levels, FOLLOWUP_RUNG]
    )


def create_app(settings: EscalationSettings | None = None) -> FastAPI:
    settings = settings or EscalationSettings()
    policy = load_policy(settings.policy_file)
    directory = load_staff(settings, policy)
    runtime = Runtime.build(settings)
    escalation = Escalation(runtime.sessions, runtime.topics, policy, directory)
    app = service_app(
        title="Complaint escalation",
        description="Every complaint's case on tiered SLA clocks and the escalation ladder.",
        settings=settings,
        runtime=runtime,
        tasks=background_tasks(escalation),
        router=router,
        directory=directory,
    )
    app.include_router(approvals_api.router)
    app.include_router(directory_api.router)
    app.state.policy = policy
    app.state.escalation = escalation
    return app
