import pytest
from pydantic import ValidationError

from services.intake.domain.status import Status, status_after
from services.intake.settings import IntakeSettings


def test_settings_read_their_prefix(monkeypatch):
    monkeypatch.setenv("INTAKE_API_KEYS", "web:abc")
    monkeypatch.setenv("INTAKE_ACK_MINUTES_REMOTE", "60")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    settings = IntakeSettings()
    assert settings.credentials() == [("web", "abc")]
    assert settings.ack_minutes_remote == 60
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.database_url.get_secret_value().endswith("/intake")
    assert settings.consumer_group == "intake"


def test_plain_postgres_urls_get_the_async_driver(monkeypatch):
    monkeypatch.setenv("INTAKE_DATABASE_URL", "postgresql://u:p@db/intake")
    url = IntakeSettings().database_url.get_secret_value()
    assert url == "postgresql+asyncpg://u:p@db/intake"


def test_topic_prefix_prefixes_the_consumer_group(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "staging.")
    assert IntakeSettings().consumer_group == "staging.intake"


def test_keys_for_unknown_channels_are_refused(monkeypatch):
    monkeypatch.setenv("INTAKE_API_KEYS", "pigeon:abc")
    with pytest.raises(ValidationError, match="unknown channel"):
        IntakeSettings()


def test_status_follows_case_events():
    assert status_after("case.opened") == Status.OPEN
    assert status_after("case.resolved") == Status.RESOLVED
    assert status_after("complaint.reopened") == Status.REOPENED
    assert status_after("case.sla_warning") is None
