"""Topic names. A prefix (``KAFKA_TOPIC_PREFIX``) isolates environments sharing a cluster."""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    @property
    def intake(self) -> str:
        return f"{self.prefix}complaints.intake.v1"

    @property
    def handling(self) -> str:
        return f"{self.prefix}complaints.handling.v1"

    @property
    def followup(self) -> str:
        return f"{self.prefix}complaints.followup.v1"

    @property
    def satisfaction(self) -> str:
        return f"{self.prefix}complaints.satisfaction.v1"

    @property
    def notify(self) -> str:
        return f"{self.prefix}complaints.notify.v1"

    @property
    def ledger(self) -> str:
        return f"{self.prefix}complaints.ledger.v1"

    @property
    def activity(self) -> str:
        return f"{self.prefix}customers.activity.v1"

    def all(self) -> list[str]:
        main = [
            self.intake,
            self.handling,
            self.followup,
            self.satisfaction,
            self.notify,
            self.activity,
            self.ledger,
        ]
        return main + [dead_letter(t) for t in main]


def dead_letter(topic: str) -> str:
    return topic + DLQ_SUFFIX
