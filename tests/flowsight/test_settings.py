"""Settings from FLOWSIGHT_* variables: refusals unless in local mode, safe defaults there."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from flowsight.adapters.notify.routes import alert_routes
from flowsight.api.auth import new_api_key
from flowsight.settings import LOCAL_PSEUDONYM_KEY_FILE, REPO_ROOT, Settings

KEY_32 = "0123456789abcdef" * 2
API_KEYS = new_api_key("bed-managers", ["viewer"])[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer FLOWSIGHT_* variable or .env file may change what these tests see."""
    for name in list(os.environ):
        if name.startswith("FLOWSIGHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # Most tests here are about one setting: they run as a local trial unless they say otherwise.
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "local")


def settings() -> Settings:
    return Settings(_env_file=None)


def refusal() -> str:
    with pytest.raises(ValidationError) as raised:
        settings()
    return str(raised.value)


def test_local_mode_needs_nothing_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path))
    loaded = settings()

    assert loaded.environment == "local"
    assert len(loaded.pseudonym_secret) >= 32


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "flowsight.example.nhs.uk"])
def test_local_mode_without_credentials_never_listens_on_the_network(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_API_HOST", host)

    assert f"FLOWSIGHT_API_HOST={host} would serve patient-level lists" in refusal()
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)  # with credentials it may
    assert settings().api_host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"])
def test_local_mode_without_credentials_listens_on_this_machine(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_API_HOST", host)

    assert settings().api_host == host


def test_without_an_environment_nothing_starts_open(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 13, item 1: no FLOWSIGHT_ENVIRONMENT used to mean an open development API.
    monkeypatch.delenv("FLOWSIGHT_ENVIRONMENT")

    assert "FLOWSIGHT_PSEUDONYM_KEY must be set" in refusal()
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    assert "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER" in refusal()
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)
    assert settings().environment == "production"


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_need_a_key_and_credentials_too(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", environment)

    assert "FLOWSIGHT_PSEUDONYM_KEY must be set" in refusal()
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    assert "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER" in refusal()


def test_a_local_run_generates_its_own_key_once_readable_by_its_owner_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path / "state"))

    first, second = settings().pseudonym_secret, settings().pseudonym_secret
    other_machine = Settings(_env_file=None, data_dir=tmp_path / "other").pseudonym_secret

    key_file = tmp_path / "state" / LOCAL_PSEUDONYM_KEY_FILE
    assert first == second == key_file.read_text().strip().encode()
    assert first != other_machine
    assert b"development" not in first and len(first) == 64
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_refusal_never_quotes_the_secrets_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", "pseudonym-key-" + "s" * 32)
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SASL_PASSWORD", "kafka-password-123")

    message = refusal()
    assert "FLOWSIGHT_API_KEYS" in message
    assert "s" * 32 not in message and "kafka-password-123" not in message


@pytest.mark.parametrize("name", ["OIDC_ISSUER", "OIDC_JWKS_URL"])
def test_oidc_addresses_must_be_https_outside_local_mode(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_OIDC_ISSUER", "https://login.example.nhs.uk/realms/city")
    monkeypatch.setenv(f"FLOWSIGHT_{name}", "http://login.example.nhs.uk/realms/city")

    assert f"FLOWSIGHT_{name} must be an https:// address" in refusal()
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "local")
    assert settings().oidc_issuer.startswith("http")


def test_sasl_needs_a_user_and_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SASL_USERNAME", "flowsight-worker")

    assert "FLOWSIGHT_KAFKA_SASL_PASSWORD" in refusal()


def test_tls_files_without_tls_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SSL_CAFILE", "/etc/flowsight/kafka-ca.pem")

    assert "does not use TLS" in refusal()
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SSL_CERTFILE", "/etc/flowsight/client.pem")
    monkeypatch.setenv("FLOWSIGHT_KAFKA_SECURITY_PROTOCOL", "SSL")
    assert "FLOWSIGHT_KAFKA_SSL_KEYFILE" in refusal()


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


def test_production_with_both_starts_and_uses_its_own_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWSIGHT_DATA_DIR", str(tmp_path))
    development = settings()
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)

    loaded = settings()

    assert loaded.pseudonym_secret == KEY_32.encode()
    assert loaded.pseudonym_secret != development.pseudonym_secret
    assert KEY_32 not in repr(loaded)  # a secret never appears in logs of the settings


@pytest.mark.parametrize("environment", ["local", "development", "test", "production"])
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


def test_a_dotenv_file_in_the_working_directory_is_ignored_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The guard the other tests rely on: _env_file=None keeps a developer's .env out.
    monkeypatch.delenv("FLOWSIGHT_ENVIRONMENT")
    (tmp_path / ".env").write_text("FLOWSIGHT_ENVIRONMENT=local\n", encoding="utf-8")

    assert "FLOWSIGHT_PSEUDONYM_KEY must be set" in refusal()


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


def test_a_worker_s_static_member_name_is_stable_and_differs_by_metrics_port(
    tmp_path: Path,
) -> None:
    def member(**changes: Any) -> str:
        return Settings(_env_file=None, data_dir=tmp_path, **changes).group_instance_id

    assert member(worker_metrics_port=6067) == member(worker_metrics_port=6067)
    assert member(worker_metrics_port=6067) != member(worker_metrics_port=6068)
    assert member(worker_id="flowsight-worker-1") == "flowsight-worker-1"


def test_a_worker_id_kafka_would_refuse_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="worker_id"):
        Settings(_env_file=None, worker_id="two words")


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("<set out of band: openssl rand -hex 32>", "placeholder"),  # the example Secret's
        (" " * 40, "spaces"),
        ("0123456789abcdef 0123456789abcdef", "spaces"),
        ("abababababababababababababababab", "different characters"),
    ],
)
@pytest.mark.parametrize("environment", ["local", "production"])
def test_a_pseudonym_key_anyone_could_guess_is_refused_without_being_quoted(
    monkeypatch: pytest.MonkeyPatch, environment: str, key: str, said: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", environment)
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", API_KEYS)
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", key)

    message = refusal()
    assert said in message
    assert key not in message


@pytest.mark.parametrize("keys", [",", " , ", " "])
def test_production_with_api_keys_that_name_no_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_API_KEYS", keys)

    assert "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER" in refusal()


def test_production_with_an_issuer_without_a_host_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_OIDC_ISSUER", "https://")

    assert "FLOWSIGHT_OIDC_ISSUER must be an https:// address" in refusal()


@pytest.mark.parametrize("audience", ["", "  "])
def test_an_issuer_with_an_empty_audience_is_refused(
    monkeypatch: pytest.MonkeyPatch, audience: str
) -> None:
    # It started, and any token of the issuer whose `aud` held "" was taken as one for flowsight.
    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOWSIGHT_PSEUDONYM_KEY", KEY_32)
    monkeypatch.setenv("FLOWSIGHT_OIDC_ISSUER", "https://login.example.nhs.uk/")
    monkeypatch.setenv("FLOWSIGHT_OIDC_AUDIENCE", audience)

    assert "FLOWSIGHT_OIDC_AUDIENCE is empty" in refusal()
