"""Logs hold no secrets, raw identifiers or message bodies, in either format (issue 13, item 2):
errors are forced on each path (an API 500, a settings refusal, Kafka client errors) and the
captured log is scanned for every secret and for the NHS number."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.api.auth import new_api_key
from flowsight.api.deps import GatewayWriter, KafkaUnavailable
from flowsight.context import build_api
from flowsight.logs import Redactor, configure_logging
from flowsight.settings import Settings
from tests.integration.stack import free_port

NHS_NUMBER = "9434765919"
PSEUDONYM_KEY = "pseudonym-key-" + "q" * 32
KAFKA_PASSWORD = "kafka-scram-password-7"
DATABASE_PASSWORD = "db-password-31"
WEBHOOK_SECRET = "webhook-signing-secret-5"
CALLER_KEY, CALLER_ENTRY = new_api_key("bed-bureau", ["viewer", "caseload"])
SECRETS = [NHS_NUMBER, PSEUDONYM_KEY, KAFKA_PASSWORD, DATABASE_PASSWORD, WEBHOOK_SECRET, CALLER_KEY]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def settings(tmp_path: Path, log_format: str) -> Settings:
    return Settings(
        _env_file=None,
        environment="production",
        log_format=log_format,
        log_level="DEBUG",
        pseudonym_key=PSEUDONYM_KEY,
        api_keys=CALLER_ENTRY,
        # The URL's password is blanked by shape; the SQLite file ignores it.
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="flowsight-api",
        kafka_sasl_password=KAFKA_PASSWORD,
        alert_routes=(
            '[{"kind": "webhook", "name": "oncall", "url": "https://hooks.example/x", '
            f'"secret": "{WEBHOOK_SECRET}"}}]'
        ),
        data_dir=tmp_path,
    )


def logged_api(tmp_path: Path, log_format: str) -> FastAPI:
    """The API of `settings`, its read model made, logging as a served process does."""
    configured = settings(tmp_path, log_format)
    upgrade(configured.resolved_database_url)
    configure_logging(configured)
    return build_api(configured)


def assert_clean(log: str) -> None:
    leaked = [secret for secret in SECRETS if secret in log]
    assert not leaked, f"the log holds {leaked}:\n{log}"


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_an_api_500_logs_its_traceback_without_locals_secrets_or_nhs_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    app = logged_api(tmp_path, log_format)

    @app.get("/v1/fails")
    async def fails() -> None:
        # What a crashing handler has in hand: the caller's key, the key, a raw event.
        caller_key, key = CALLER_KEY, PSEUDONYM_KEY  # noqa: F841
        event = {"patient": {"nhs_number": NHS_NUMBER}}  # noqa: F841
        database = f"postgresql://flowsight:{DATABASE_PASSWORD}@db/flowsight"
        raise RuntimeError(f"lost {NHS_NUMBER} at {database} with {KAFKA_PASSWORD}")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/fails", headers={"Authorization": f"Bearer {CALLER_KEY}"})

    log = capsys.readouterr().err
    assert response.status_code == 500
    assert "unexpected error answering GET /v1/fails" in log
    assert "RuntimeError" in log and "Traceback" in log
    assert "postgresql://flowsight:[redacted]@db/flowsight" in log
    assert_clean(log)


@pytest.mark.parametrize(
    "error", [OperationalError("SELECT 1", {}, OSError()), OSError(), KeyError()]
)
def test_an_error_on_a_path_a_caller_chose_is_one_short_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    # A read model that is down fails every route, whatever its path (a connection is taken
    # before the caller is checked): a 65 kB path made each of those lines 65 kB.
    app = logged_api(tmp_path, "json")

    @app.get("/v1/fails/{anything}")
    async def fails(anything: str) -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(f"/v1/fails/{'x' * 65_000}").status_code in (500, 503)

    lines = capsys.readouterr().err.splitlines()
    [said] = [line for line in lines if "/v1/fails/" in line and '"level": "error"' in line]
    assert "x" * 300 not in said and "(cut from 65010 characters)" in said, said[:300]


@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_kafka_client_errors_are_logged_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configured = settings(tmp_path, log_format)
    configure_logging(configured)
    writer = GatewayWriter(configured, CollectorRegistry())

    with pytest.raises(KafkaUnavailable):
        await writer.publish("http", "RR8", [{"patient": {"nhs_number": NHS_NUMBER}}])
    with pytest.raises(KafkaUnavailable):
        await writer.dead_letter(
            f'{{"nhs_number": "{NHS_NUMBER}"}}'.encode(),
            organisation="RR8",
            gateway="http",
            reason="malformed_json",
            field="",
            message="not valid JSON",
        )
    await writer.stop()

    log = capsys.readouterr().err
    assert "Unable to bootstrap" in log or "Unable connect" in log, log  # aiokafka spoke
    assert_clean(log)


def api_started(directory: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`flowsight api` run in production with `variables`, to its exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSIGHT_")}
    env |= {
        "FLOWSIGHT_ENVIRONMENT": "production",
        "FLOWSIGHT_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "FLOWSIGHT_DATA_DIR": str(directory),
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-m", "flowsight", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=directory,
    )


def test_a_settings_refusal_at_start_quotes_no_secret(tmp_path: Path) -> None:
    done = api_started(
        tmp_path,
        FLOWSIGHT_KAFKA_SASL_PASSWORD=KAFKA_PASSWORD,
        FLOWSIGHT_DATABASE_URL=f"postgresql+asyncpg://u:{DATABASE_PASSWORD}@db/flowsight",
    )

    assert done.returncode == 2
    assert "FLOWSIGHT_API_KEYS or FLOWSIGHT_OIDC_ISSUER must be set" in done.stderr
    assert_clean(done.stdout + done.stderr)


@pytest.mark.parametrize(
    "route",
    [
        # A webhook secret one character short of the length asked for.
        {"kind": "webhook", "url": "https://hooks.example.org/x", "secret": "S3CRET-" + "x" * 24},
        # A misspelt kind: the whole route used to be quoted, its SMTP password with it.
        {"kind": "emial", "host": "smtp.example.org", "password": "SMTP-PASSWORD-s3cr3t"},
    ],
)
def test_an_alert_route_refused_at_start_quotes_none_of_its_secrets(
    tmp_path: Path, route: dict[str, str]
) -> None:
    done = api_started(
        tmp_path,
        FLOWSIGHT_API_KEYS=f"v:viewer:{'0' * 64}",
        FLOWSIGHT_ALERT_ROUTES=json.dumps([route]),
    )

    assert done.returncode == 2
    assert "AlertRoutes" in done.stderr
    secret = route.get("secret") or route["password"]
    assert secret not in done.stdout + done.stderr


def test_the_redactor_blanks_each_kind_of_secret() -> None:
    redact = Redactor([PSEUDONYM_KEY])
    text = (
        f"key {PSEUDONYM_KEY}; caller {CALLER_KEY}; Authorization: Bearer abc.def; "
        "X-API-Key: s3cr3t; https://user:pw@host/x?sig=signature123&a=1; "
        "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln; "
        f"nhs {NHS_NUMBER}, 943 476 5919, 943-476-5919, 943.476.5919, \uff19\uff14\uff13"
        "\uff14\uff17\uff16\uff15\uff19\uff11\uff19 (full width), 9\u200b434765919 (zero width), "
        "\u00a0943\u00a0476\u00a05919 (no-break), 943\u2013476\u20135919 (en dash), (943) 476-5919, "
        "9434 765 919, 94347_65919, 9 4 3 4 7 6 5 9 1 9; "
        "not 12345678901 or 2026-11-23 10:00:00 or 0113 243 3144 or 192.168.100.123"
    )

    redacted = redact(text)

    for leaked in (PSEUDONYM_KEY, CALLER_KEY, "abc.def", "s3cr3t", "pw@", "signature123"):
        assert leaked not in redacted
    assert "eyJ" not in redacted
    numbers = redacted[redacted.index("nhs ") : redacted.index("; not")]
    assert "[nhs-number?]" in numbers
    assert not re.search(r"[0-9\uff10-\uff19]", numbers), numbers  # not one digit of them left
    for kept in ("12345678901", "2026-11-23 10:00:00", "0113 243 3144", "192.168.100.123"):
        assert kept in redacted
    assert "Bearer [redacted]" in redacted and "https://user:[redacted]@host" in redacted


def test_local_mode_says_so_loudly_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(_env_file=None, environment="local", data_dir=tmp_path))
    local = capsys.readouterr().err
    configure_logging(settings(tmp_path, "console"))
    production = capsys.readouterr().err

    assert "[warning" in local and "FLOWSIGHT_ENVIRONMENT=local" in local
    assert "The API needs no credentials" in local
    assert "not for real patient data" in local
    assert "FLOWSIGHT_ENVIRONMENT=local" not in production


@pytest.mark.parametrize(
    ("bootstrap", "protocol", "warned"),
    [
        ("kafka-1.trust.example:9092,kafka-2.trust.example:9092", "PLAINTEXT", True),
        ("10.2.0.7:9092", "SASL_PLAINTEXT", True),
        ("kafka-1.trust.example:9093", "SASL_SSL", False),
        ("127.0.0.1:9092", "PLAINTEXT", False),  # this host: nothing crosses the network
    ],
)
def test_production_says_at_start_when_kafka_traffic_crosses_the_network_in_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bootstrap: str, protocol: str, warned: bool
) -> None:
    # It started silently, though ingest and dead-letter topics carry NHS numbers.
    configure_logging(
        settings(tmp_path, "console").model_copy(
            update={"kafka_bootstrap": bootstrap, "kafka_security_protocol": protocol}
        )
    )
    said = capsys.readouterr().err
    assert ("cross the network in clear" in said) is warned


#: The NHS number as a caller may write it in a path: full-width digits, no-break spaces,
#: zero-width spaces, middle dots; each reaches a log line escaped (a repr, JSON's \u).
HIDDEN_NUMBERS = [
    "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",
    "943\u00a0476\u00a05919",
    "9\u200b4\u200b3\u200b4765919",
    "943\u00b7476\u00b75919",
]


def _as_read(line: str) -> str:
    """`line` with its escapes read as their characters, twice (a repr inside JSON), and every
    decimal digit as an ASCII one: what a reader of the log sees."""
    for _ in range(2):
        line = line.encode("latin-1", "backslashreplace").decode("unicode-escape")
    return "".join(str(int(c)) if c.isdecimal() else c for c in line)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_number_a_caller_hid_in_a_path_is_blanked_in_the_log_line_that_escapes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    with TestClient(logged_api(tmp_path, log_format)) as client:
        for number in HIDDEN_NUMBERS:
            assert client.get(f"/v1/services/{number}/caseload").status_code == 401

    denied = [line for line in capsys.readouterr().err.splitlines() if "denied" in line]
    assert len(denied) == len(HIDDEN_NUMBERS)
    for line in denied:
        assert "[nhs-number?]" in line, line
        assert NHS_NUMBER not in re.sub(r"[^0-9]", "", _as_read(line)), line


@pytest.mark.parametrize(
    "write", [repr, json.dumps, lambda text: json.dumps(repr(text))], ids=["repr", "json", "both"]
)
def test_the_redactor_reads_a_line_s_escapes(write: object) -> None:
    assert callable(write)
    for number in HIDDEN_NUMBERS:
        line = f"refused {write(f'/v1/services/{number}/caseload')} 401"
        redacted = Redactor()(line)
        assert "[nhs-number?]" in redacted, (line, redacted)
        assert NHS_NUMBER not in re.sub(r"[^0-9]", "", _as_read(redacted)), redacted
    # Escapes that hold no number are left as written.
    plain = 'ward "A\\u00a0B" and 0113\\u00a0243\\u00a03144'
    assert Redactor()(plain) == plain
