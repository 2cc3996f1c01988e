"""Where the tests' Kafka and PostgreSQL come from, in this order:

1. given: ``KAFKA_BOOTSTRAP_SERVERS`` and ``INTAKE_DATABASE_URL`` (its server is used for the
   test databases) are set: use them, start nothing;
2. a Docker engine answers: testcontainers starts Kafka (KRaft) and PostgreSQL;
3. otherwise: the project's own local servers (``deploy/local/infra.sh up``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import make_url

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFRA = os.path.join(ROOT, "deploy", "local", "infra.sh")
LOCAL_ADMIN_URL = "postgresql+asyncpg://complaints:complaints@127.0.0.1:54320/postgres"

# testcontainers' KafkaContainer drives Confluent's image; CP 7.9 ships Apache Kafka 3.9.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
POSTGRES_IMAGE = "postgres:16-alpine"


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    admin_database_url: str  # a database on the server where test databases are created
    origin: str  # given | testcontainers | local

    def database_url(self, name: str) -> str:
        url = make_url(self.admin_database_url).set(database=name)
        return url.render_as_string(hide_password=False)


def docker_available() -> bool:
    if os.environ.get("TESTS_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextmanager
def provide_servers() -> Iterator[Servers]:
    given_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    given_db = os.environ.get("INTAKE_DATABASE_URL")
    if given_kafka and given_db:
        admin = make_url(given_db).set(drivername="postgresql+asyncpg", database="postgres")
        yield Servers(given_kafka, admin.render_as_string(hide_password=False), "given")
    elif docker_available():
        with _containers() as servers:
            yield servers
    else:
        subprocess.run([INFRA, "up"], check=True, env=_without_given(os.environ))
        yield Servers("127.0.0.1:9092", LOCAL_ADMIN_URL, "local")


@contextmanager
def _containers() -> Iterator[Servers]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        PostgresContainer(POSTGRES_IMAGE, username="complaints", password="complaints") as pg,
    ):
        host, port = pg.get_container_host_ip(), pg.get_exposed_port(5432)
        yield Servers(
            kafka.get_bootstrap_server(),
            f"postgresql+asyncpg://complaints:complaints@{host}:{port}/postgres",
            "testcontainers",
        )


def _without_given(env: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
