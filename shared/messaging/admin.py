"""Topic administration: the project creates its topics (auto-creation is off on the broker).

python -m shared.messaging.admin            # create the platform's topics

Partitions, replication factor and ``min.insync.replicas`` come from the environment
(``KAFKA_TOPIC_PARTITIONS``, ``KAFKA_REPLICATION_FACTOR``, ``KAFKA_MIN_INSYNC_REPLICAS``).
The defaults are for a production cluster: 3 copies, 2 of which must acknowledge a write
(the producer sends with ``acks=all``), so one broker may die without losing or refusing
an event. A single local broker needs 1 and 1 (``deploy/local/infra.sh env`` prints them).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events.topics import Topics

log = logging.getLogger(__name__)


class TopicSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(
        default=3,
        ge=1,
        # KAFKA_TOPIC_REPLICATION: the earlier name, still read.
        validation_alias=AliasChoices("kafka_replication_factor", "kafka_topic_replication"),
    )
    kafka_min_insync_replicas: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> TopicSettings:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS={self.kafka_min_insync_replicas} exceeds "
                f"KAFKA_REPLICATION_FACTOR={self.kafka_replication_factor}: no write could succeed"
            )
        return self


async def wait_for_kafka(bootstrap_servers: str, timeout: float = 120) -> AIOKafkaAdminClient:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            return admin
        except KafkaError:
            await admin.close()
            if loop.time() > deadline:
                raise
            print(f"waiting for Kafka at {bootstrap_servers}...", file=sys.stderr)
            await asyncio.sleep(1)


async def _wait_for_brokers(admin: AIOKafkaAdminClient, wanted: int, where: str) -> None:
    """A cluster that is starting registers its brokers one by one: wait for enough of them
    to hold every copy, and name the setting when there will never be enough."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (brokers := len((await admin.describe_cluster())["brokers"])) < wanted:
        if loop.time() > deadline:
            raise KafkaError(
                f"replication factor {wanted} needs as many brokers; the cluster at {where} "
                f"has {brokers} (a single local broker: KAFKA_REPLICATION_FACTOR=1 "
                "KAFKA_MIN_INSYNC_REPLICAS=1)"
            )
        print(f"waiting for {wanted} brokers at {where} ({brokers} so far)...", file=sys.stderr)
        await asyncio.sleep(2)


async def ensure_topics(
    bootstrap_servers: str,
    topics: list[str],
    partitions: int | None = None,
    replication: int | None = None,
    min_insync: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. What is not given
    comes from the environment (``TopicSettings``)."""
    settings = TopicSettings()
    partitions = partitions or settings.kafka_topic_partitions
    replication = replication or settings.kafka_replication_factor
    min_insync = min(min_insync or settings.kafka_min_insync_replicas, replication)
    admin = await wait_for_kafka(bootstrap_servers)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return []
        await _wait_for_brokers(admin, replication, bootstrap_servers)
        config = {"min.insync.replicas": str(min_insync)}
        new = [NewTopic(t, partitions, replication, topic_configs=config) for t in missing]
        result = await admin.create_topics(new)
        for topic, code, message in getattr(result, "topic_errors", []):
            if code and code != TopicAlreadyExistsError.errno:
                raise KafkaError(f"creating topic {topic}: error {code} {message}")
        return missing
    finally:
        await admin.close()


def main() -> None:
    settings = TopicSettings()
    created = asyncio.run(
        ensure_topics(settings.kafka_bootstrap_servers, Topics(settings.kafka_topic_prefix).all())
    )
    print(
        f"topics ready ({len(created)} created: {', '.join(created) or 'none'}; "
        f"replication {settings.kafka_replication_factor}, "
        f"min.insync.replicas {settings.kafka_min_insync_replicas})"
    )


if __name__ == "__main__":
    main()
