"""The OpenAPI document says what the API really answers: a property-based HTTP run of every
operation (schemathesis, every check) against the running API, its worker and Kafka, in
production mode with a key holding every role and publishing for one organisation (issue 13).

Deterministic (derandomised generation, a fixed seed) and bounded: a few examples per operation,
about a minute and a quarter on two cores. `/v1/stream` never ends: schemathesis reads at most
one of its events, for at most two seconds (see CONFIG).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flowsight.adapters.readmodel.migrate import upgrade
from flowsight.api.auth import new_api_key
from flowsight.context import build_api
from flowsight.settings import Settings
from tests.integration.stack import Stack, running_stack, stack_env

#: Every role, and publishing for one organisation so `POST /v1/events` and `/fhir` get through.
EVERY_ROLE = ["viewer", "caseload", "oncall", "admin", "metrics", "publisher:RR8"]
KEY, KEY_ENTRY = new_api_key("openapi-properties", EVERY_ROLE)

#: Examples per operation and per phase: enough to cover every documented answer, within the
#: time bound of the suite (about a minute for the whole run on two cores).
MAX_EXAMPLES = 6
#: Recorded in the report; derandomised generation draws the same cases from the schema anyway.
SEED = 13


@pytest.fixture
def production_stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    """Worker and API on the test broker, in production mode: no anonymous caller at all."""
    env = stack_env(
        kafka_bootstrap,
        f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}",
        tmp_path,
        api_keys=[KEY_ENTRY],
        FLOWSIGHT_ENVIRONMENT="production",
    )
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.start_api()
        yield stack


#: Where schemathesis' rules are wrong for an operation, the one rule changed, and why. A schema
#: cannot say what the contract's validator checks against the catalogue, the caller's
#: organisation and the clock, so a schema-valid request there may be refused as documented.
CONFIG = """
[[operations]]
# An event of the body is checked against the contract (event type, source organisation of the
# publisher, catalogue services, timestamps): a JSON object is not necessarily a valid event.
include-path = "/v1/events"
checks.positive_data_acceptance.expected-statuses = ["2xx", "422"]

[[operations]]
# An Encounter or a Bundle is mapped and validated whole (FHIR R4, the mapping profile, the
# contract): `resourceType` alone does not make one that can be published.
include-path-regex = "^/fhir"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "422"]

[[operations]]
# A week of the pattern may not exist (week 53 of a 52-week year) or not have started yet.
include-path = "/v1/reports/weekly"
checks.positive_data_acceptance.expected-statuses = ["2xx", "422"]

[[operations]]
# Thresholds must rise from level 2 to 4 and keep the system's scores within its cut-offs.
include-path-regex = "^/v1/thresholds/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "422"]

[[operations]]
# The stream never ends: read at most one event, for at most two seconds (a fresh system has
# no pressure scored yet, so the first event may be a while coming).
include-path = "/v1/stream"
max-stream-events = 1
request-timeout = 2
"""


def schemathesis(stack: Stack, directory: Path) -> tuple[int, str, dict[str, Any]]:
    """Run schemathesis over the API's own document; its exit code, output and JSON report."""
    report = directory / "schemathesis.json"
    config = directory / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{stack.api_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--output-sanitize",
        "true",
        "--no-color",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, cwd=directory
    )
    summary = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, done.stdout + done.stderr, summary


def test_every_operation_answers_as_documented(production_stack: Stack, tmp_path: Path) -> None:
    started = time.monotonic()
    code, output, summary = schemathesis(production_stack, tmp_path)
    print(output)  # the operations, phases, cases and any failure, for the run's log
    print(f"schemathesis ran for {time.monotonic() - started:.0f}s")
    assert code == 0, output[-20000:]
    # Every operation of the document was tested, the stream included, with no failure at all.
    assert summary["operations"] == summary["operations"] | {"errored": 0, "skipped": 0}
    assert summary["operations"]["tested"] == summary["operations"]["total"]
    assert summary["failures"] == [] and summary["errors"] == []


def test_production_tells_clients_how_to_authenticate(tmp_path: Path) -> None:
    """The document lists both ways in (bearer and X-API-Key), and what the stream answers."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    upgrade(database)
    settings = Settings(
        _env_file=None,
        environment="production",
        pseudonym_key="0123456789abcdef" * 2,
        api_keys=KEY_ENTRY,
        database_url=database,
        data_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
    )
    with TestClient(build_api(settings)) as client:
        document = client.get("/openapi.json").json()
        schemes = document["components"]["securitySchemes"]
        assert {"type": "http", "scheme": "bearer"}.items() <= schemes["HTTPBearer"].items()
        assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= schemes[
            "APIKeyHeader"
        ].items()
        stream = document["paths"]["/v1/stream"]["get"]
        assert list(stream["responses"]["200"]["content"]) == ["text/event-stream"]
        assert {"HTTPBearer": []} in stream["security"]
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if status >= "400":
                        assert response.get("content"), f"{method} {path} {status} has no body"
