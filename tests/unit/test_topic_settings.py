"""Topic replication comes from configuration: production defaults, and nonsense refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.messaging.admin import TopicSettings


@pytest.fixture(autouse=True)
def no_kafka_env(monkeypatch):
    for name in ("KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS", "KAFKA_TOPIC_REPLICATION",
                 "KAFKA_TOPIC_PARTITIONS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_production_defaults_are_three_copies_two_in_sync():
    settings = TopicSettings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)


def test_the_environment_sets_them(monkeypatch):
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "1")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "12")
    settings = TopicSettings()
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (1, 1)
    assert settings.kafka_topic_partitions == 12


def test_the_earlier_variable_name_is_still_read(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION", "5")
    assert TopicSettings().kafka_replication_factor == 5


def test_more_in_sync_replicas_than_copies_is_refused(monkeypatch):
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "4")
    with pytest.raises(ValidationError, match="KAFKA_MIN_INSYNC_REPLICAS=4 exceeds"):
        TopicSettings()
