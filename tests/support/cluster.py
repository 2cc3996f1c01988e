"""A private three-node Kafka cluster (KRaft, each node broker + controller) for fault tests,
started by ``deploy/local/infra.sh cluster-*`` in a temporary folder on free ports, so a test
may kill -9 its brokers without touching any broker another test or engineer uses."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support.servers import INFRA

NODES = (1, 2, 3)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_block() -> int:
    """A base port with base..base+2 (brokers) and base+100..base+102 (controllers) free."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if all(_port_free(base + n - 1) and _port_free(base + 100 + n - 1) for n in NODES):
            return base
    raise RuntimeError("no free block of ports for a Kafka cluster")


class KafkaCluster:
    def __init__(self) -> None:
        self.base_port = _free_port_block()
        self._dir = tempfile.mkdtemp(prefix="kafka-cluster-")
        self._env = {
            **{k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
            "LOCAL_KAFKA_CLUSTER_DIR": self._dir,
            "LOCAL_KAFKA_CLUSTER_PORT": str(self.base_port),
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.base_port + n - 1}" for n in NODES)

    def env(self) -> dict[str, str]:
        """What a service or the topic admin needs to use the cluster."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_REPLICATION_FACTOR": "3",
            "KAFKA_MIN_INSYNC_REPLICAS": "2",
        }

    def _infra(self, *args: str) -> str:
        done = subprocess.run(
            [INFRA, *args], env=self._env, check=True, stdout=subprocess.PIPE, text=True
        )
        return done.stdout

    def start(self) -> KafkaCluster:
        self._infra("cluster-up")
        return self

    def kill(self, node: int) -> None:
        """kill -9 one node (broker and controller)."""
        self._infra("cluster-kill", str(node))

    def start_node(self, node: int) -> None:
        """Start a killed node again; returns once it serves."""
        self._infra("cluster-start", str(node))

    def leader(self, timeout: float = 60) -> int:
        """The node id of the active controller (the quorum may be electing one: wait)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._infra("cluster-leader").strip()
            if found.isdigit() and int(found) in NODES:
                return int(found)
            if time.monotonic() > deadline:
                raise TimeoutError("the controller quorum elected no leader")
            time.sleep(1)

    def destroy(self) -> None:
        for node in NODES:  # disposable: no orderly shutdown to wait for
            subprocess.run([INFRA, "cluster-kill", str(node)], env=self._env, check=False)
        subprocess.run([INFRA, "cluster-down"], env=self._env, check=False)
        shutil.rmtree(self._dir, ignore_errors=True)

    async def fully_replicated(self, topics: list[str], timeout: float = 120) -> None:
        """Wait until every partition of ``topics`` has its three replicas in sync again (a
        restarted broker has caught up): the next fault then starts from a whole cluster."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                described = await admin.describe_topics(topics)
                lagging = [
                    (t["topic"], p["partition"])
                    for t in described
                    for p in t["partitions"]
                    if len(p["isr"]) < len(NODES)
                ]
                if not lagging:
                    return
            except Exception:  # a cluster still settling answers errors: ask again
                lagging = ["(no answer)"]
            finally:
                await admin.close()
            if loop.time() > deadline:
                raise TimeoutError(f"partitions still under-replicated: {lagging[:5]}")
            await asyncio.sleep(1)

    async def topic_replication(self, topic: str, timeout: float = 30) -> tuple[set[int], str]:
        """The replica counts of ``topic``'s partitions and its ``min.insync.replicas`` (a
        broker that has not yet caught up with a new topic answers nothing: ask again)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            while True:
                [described] = await admin.describe_topics([topic])
                replicas = {len(p["replicas"]) for p in described["partitions"]}
                wanted = {"min.insync.replicas": None}
                resource = ConfigResource(ConfigResourceType.TOPIC, topic, wanted)
                [response] = await admin.describe_configs([resource])
                entries = dict(e[:2] for e in response.resources[0][4])
                if replicas and "min.insync.replicas" in entries:
                    return replicas, entries["min.insync.replicas"]
                assert loop.time() < deadline, f"{topic}: no replication settings described"
                await asyncio.sleep(1)
        finally:
            await admin.close()

    async def partitions(self, topic: str) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
            return sorted(p["partition"] for p in described["partitions"])
        finally:
            await admin.close()
