"""A private Kafka broker that a fault test may stop and restart without disturbing the
broker every other test uses: a second local KRaft node, or a second container."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from tests.support.processes import free_port
from tests.support.servers import INFRA, docker_available


class DisposableKafka:
    def __init__(self) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="kafka-fault-")
        self._container = None
        self._env = {
            **{k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
            "LOCAL_KAFKA_DIR": self._dir,
            "LOCAL_KAFKA_PORT": str(self.port),
            "LOCAL_KAFKA_CONTROLLER_PORT": str(free_port()),
        }
        self._docker = docker_available()

    def start(self) -> None:
        if self._docker:
            self._start_container()
        else:
            subprocess.run([INFRA, "kafka-up"], check=True, env=self._env)

    def stop(self) -> None:
        if self._docker:
            if self._container is not None:
                self._container.get_wrapped_container().pause()
        else:
            subprocess.run([INFRA, "kafka-down"], check=True, env=self._env)

    def destroy(self) -> None:
        if self._container is not None:
            self._container.stop()
        else:
            subprocess.run([INFRA, "kafka-down"], check=False, env=self._env)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _start_container(self) -> None:
        # Paused rather than stopped: a restarted container would get another port.
        if self._container is not None:
            self._container.get_wrapped_container().unpause()
            return
        from testcontainers.kafka import KafkaContainer

        from tests.support.servers import KAFKA_IMAGE

        self._container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        self._container.start()
        self.bootstrap = self._container.get_bootstrap_server()
