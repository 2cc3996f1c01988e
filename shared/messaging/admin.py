"""Topic administration: the project creates its topics (auto-creation is off on the broker).

python -m shared.messaging.admin            # create the platform's topics
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.events.topics import Topics

log = logging.getLogger(__name__)


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


async def ensure_topics(
    bootstrap_servers: str, topics: list[str], partitions: int = 6, replication: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    admin = await wait_for_kafka(bootstrap_servers)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [
                NewTopic(t, num_partitions=partitions, replication_factor=replication)
                for t in missing
            ]
            result = await admin.create_topics(new)
            for topic, code, message in getattr(result, "topic_errors", []):
                if code and code != TopicAlreadyExistsError.errno:
                    raise KafkaError(f"creating topic {topic}: error {code} {message}")
        return missing
    finally:
        await admin.close()


def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("KAFKA_TOPIC_PREFIX", "")
    partitions = int(os.environ.get("KAFKA_TOPIC_PARTITIONS", "6"))
    replication = int(os.environ.get("KAFKA_TOPIC_REPLICATION", "1"))
    created = asyncio.run(ensure_topics(bootstrap, Topics(prefix).all(), partitions, replication))
    print(f"topics ready ({len(created)} created: {', '.join(created) or 'none'})")
    from shared import privacy_topics  # it imports this module

    days = privacy_topics.retention_days_from_env()
    names = privacy_topics.personal_data_topics(Topics(prefix))
    asyncio.run(privacy_topics.apply_retention(bootstrap, names, days))
    print(f"personal data topics keep {days:g} days" if days > 0 else "topics keep everything")


if __name__ == "__main__":
    main()
