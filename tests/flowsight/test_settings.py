"""Settings from FLOWSIGHT_* variables: safe defaults in development, refusals in production."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from flowsight.adapters.notify.routes import alert_routes
from flowsight.api.auth import new_api_key
from flowsight.settings import REPO_ROOT, Settings

KEY_32 = "k" * 32
API_KEYS = new_api_key("bed-managers", ["viewer"])[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer FLOWSIGHT_* variable or .env file may change what these tests see."""
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings() -> Settings:
    return Settings(_env_file=None)


def refusal() -> str:
    with pytest.raises(ValidationError) as raised:
        settings()
    return str(raised.value)


def test_development_needs_nothing_set() -> None:
    loaded = settings()

    assert loaded.environment == "development"
    assert len(loaded.pseudonym_secret) >= 32


def test_production_without_a_pseudonym_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)

    assert "FLOWSIGHT_PSEUDONYM_KEY" in refusal()


def test_production_with_an_empty_pseudonym_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # `FLOWSIGHT_PSEUDONYM_KEY=` copied from .env.example must not count as a key.
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", "")

    assert "FLOWSIGHT_PSEUDONYM_KEY" in refusal()


def test_production_without_api_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)

    assert "FLOWSIGHT_API_KEYS" in refusal()


def test_production_with_both_starts_and_uses_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    development = settings()
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)

    loaded = settings()

    assert loaded.pseudonym_secret == KEY_32.encode()
    assert loaded.pseudonym_secret != development.pseudonym_secret
    assert KEY_32 not in repr(loaded)  # a secret never appears in logs of the settings


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_a_short_pseudonym_key_is_refused_everywhere(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", environment)
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", "k" * 31)

    message = refusal()
    assert "FLOWSIGHT_PSEUDONYM_KEY" in message
    assert "32" in message


def test_a_32_character_key_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)

    assert settings().pseudonym_secret == KEY_32.encode()


def test_an_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "prod")

    assert "environment" in refusal()


def test_topic_names_derive_from_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_TOPIC_NAMESPACE", "leeds-staging")

    loaded = settings()

    assert loaded.ingest_topic("RR8") == "leeds-staging.ingest.RR8.v1"
    assert loaded.events_topic == "leeds-staging.events.v1"
    assert loaded.dlq_topic == "leeds-staging.events.dlq.v1"
    assert loaded.service_state_topic == "leeds-staging.service-state.v1"
    assert loaded.pressure_topic == "leeds-staging.pressure.v1"
    assert loaded.alerts_topic == "leeds-staging.alerts.v1"


def test_the_ingest_pattern_finds_the_organisation_of_its_own_topics_only() -> None:
    loaded = Settings(_env_file=None, topic_namespace="leeds-staging")
    pattern = re.compile(loaded.ingest_topic_pattern)

    match = pattern.match(loaded.ingest_topic("RY6"))
    assert match is not None and match.group(1) == "RY6"
    assert pattern.match("flowsight.ingest.RY6.v1") is None
    assert pattern.match("leeds-staging.ingest.RY6.v2") is None
    assert pattern.match(loaded.events_topic) is None


@pytest.mark.parametrize("namespace", ["leeds.staging", "leeds staging", ""])
def test_a_namespace_that_would_break_topic_names_is_refused(
    monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_TOPIC_NAMESPACE", namespace)

    assert "topic_namespace" in refusal()


def test_the_default_database_is_a_sqlite_file_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path / "state"))

    url = make_url(settings().resolved_database_url)

    assert url.get_backend_name() == "sqlite"
    assert Path(url.database or "") == tmp_path / "state" / "flowsight.db"


def test_without_data_dir_the_database_lives_under_the_repository() -> None:
    url = make_url(settings().resolved_database_url)

    assert Path(url.database or "").is_relative_to(REPO_ROOT)


def test_an_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    postgres = "postgresql+asyncpg://flowsight:secret@db.internal:5432/flowsight"
    monkeypatch.setenv("FLOWSIGHT_DATABASE_URL", postgres)

    assert settings().resolved_database_url == postgres


def test_windows_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_LATENESS_WINDOW_DAYS", "3")
    monkeypatch.setenv("FLOWSIGHT_CLOCK_SKEW_SECONDS", "60")

    loaded = settings()

    assert loaded.lateness_window == timedelta(days=3)
    assert loaded.clock_skew == timedelta(minutes=1)


def test_the_defaults_match_the_spec() -> None:
    loaded = settings()

    assert loaded.lateness_window == timedelta(days=7)  # SPEC section 5
    assert loaded.clock_skew == timedelta(minutes=5)  # SPEC section 3


def test_a_dotenv_file_in_the_working_directory_is_ignored_here(tmp_path: Path) -> None:
    # The guard the other tests rely on: _env_file=None keeps a developer's .env out.
    (tmp_path / ".env").write_text("FLOWSIGHT_ENVIRONMENT=production\n", encoding="utf-8")

    assert settings().environment == "development"


def test_kafka_host_and_port_come_from_the_bootstrap_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWSIGHT_KAFKA_BOOTSTRAP", "kafka.internal:19092")

    loaded = settings()

    assert (loaded.kafka_host, loaded.kafka_port) == ("kafka.internal", 19092)


def test_alert_routes_are_kept_as_written_and_parsed_by_the_notify_adapter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = '[{"kind": "alertmanager", "name": "am", "url": "http://127.0.0.1:9093"}]'
    monkeypatch.setenv("FLOWSIGHT_ALERT_ROUTES", routes)

    loaded = settings()

    assert loaded.alert_routes == routes
    assert list(alert_routes(loaded.alert_routes).by_name()) == ["am"]
