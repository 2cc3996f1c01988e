"""The Kafka history and personal data: topics that carry personal data keep it for a bounded
time (``KAFKA_PERSONAL_DATA_RETENTION_DAYS``, default 30).

A record cannot be changed or deleted in Kafka, so an erasure reaches the databases at once
and the topics when their records age out: Kafka deletes a closed segment once its newest
record is older than ``retention.ms``, and segments roll at least daily (``segment.ms``), so
nothing personal outlives the retention period by more than a day. The topics that carry
personal data are all but ``complaints.notify.v1`` (which names recipients by id only);
``0`` keeps the topics' history forever (the trade-off: whoever rebuilds a store from the
topics, as satisfaction's ``rebuild`` does, gets the retention period's worth)."""

from __future__ import annotations

import os

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.events.topics import Topics, dead_letter
from shared.messaging.admin import wait_for_kafka

DEFAULT_RETENTION_DAYS = 30.0
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a topic's own setting
_DAY_MS = 24 * 3600 * 1000


def personal_data_topics(topics: Topics) -> list[str]:
    main = [topics.intake, topics.handling, topics.followup, topics.satisfaction, topics.activity]
    return main + [dead_letter(t) for t in main]


def retention_days_from_env() -> float:
    return float(os.environ.get("KAFKA_PERSONAL_DATA_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


def retention_configs(days: float) -> dict[str, str]:
    retention_ms = int(days * _DAY_MS)
    return {"retention.ms": str(retention_ms), "segment.ms": str(min(retention_ms, _DAY_MS))}


async def apply_retention(bootstrap_servers: str, names: list[str], days: float) -> None:
    """Set the retention of ``names``, keeping their other topic-level settings (AlterConfigs
    replaces a topic's whole set). ``days`` 0: nothing is changed."""
    if days <= 0 or not names:
        return
    wanted = retention_configs(days)
    admin = await wait_for_kafka(bootstrap_servers)
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
        resources = []
        for response in described:
            for resource in response.to_object()["resources"]:
                own = {
                    entry["config_names"]: entry["config_value"]
                    for entry in resource["config_entries"]
                    if entry["config_source"] == _DYNAMIC_TOPIC_CONFIG
                }
                resources.append(
                    ConfigResource(
                        ConfigResourceType.TOPIC, resource["resource_name"], own | wanted
                    )
                )
        for response in await admin.alter_configs(resources):
            for error_code, message, _, name in response.resources:
                if error_code:
                    raise RuntimeError(f"setting the retention of {name}: {error_code} {message}")
    finally:
        await admin.close()


async def topic_retention_ms(bootstrap_servers: str, name: str) -> int:
    """A topic's effective ``retention.ms`` (for tests and checks)."""
    admin = await wait_for_kafka(bootstrap_servers)
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [resource] = response.to_object()["resources"]
        values = {e["config_names"]: e["config_value"] for e in resource["config_entries"]}
        return int(values["retention.ms"])
    finally:
        await admin.close()
