"""A user who points flowsight at a broker that is not there gets one clear sentence, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.stack import free_port, stack_env


def flowsight(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run `flowsight ARGS`: its exit status, and its output with each run of spaces as one."""
    done = subprocess.run(
        [sys.executable, "-m", "flowsight", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


@pytest.mark.parametrize("command", ["publish", "worker", "topics create", "bench pipeline"])
def test_unreachable_broker_is_named_without_a_stack_trace(command: str, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"event_id": "e1", "source": "RR8/pas"}))
    env = stack_env(address, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    env["FLOWSIGHT_KAFKA_WAIT_SECONDS"] = "3"  # nothing will answer: do not wait the default 30 s
    args = {
        "publish": [str(events)],
        "bench pipeline": ["--events", "10", "--bootstrap", address],  # a broker named for the run
    }.get(command, [])
    status, output = flowsight(env, *command.split(), *args, timeout=120)
    assert status == 2, output
    assert f"cannot reach Kafka at {address}" in output
    assert "Traceback" not in output


def test_bad_catalogue_names_the_service_and_field(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(
        "system: test\norganisations: [{code: RR8, name: H}]\n"
        "services:\n  - {id: ward, name: W, organisation: RR8, kind: hospital, capacity_unit: beds}\n"
    )
    env = stack_env("127.0.0.1:1", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    env["FLOWSIGHT_CATALOGUE_PATH"] = str(catalogue)
    status, output = flowsight(env, "worker")
    assert status == 2, output
    assert "services[ward].kind" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("command", ["worker", "api"])
def test_invalid_alert_routes_stop_a_process_at_start_naming_the_variable(
    command: str, tmp_path: Path
) -> None:
    env = stack_env("127.0.0.1:1", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    env["FLOWSIGHT_ALERT_ROUTES"] = '[{"kind": "teams",'
    status, output = flowsight(env, command)
    assert status == 2, output
    assert "Invalid settings: " in output
    assert "FLOWSIGHT_ALERT_ROUTES is not valid JSON" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    "command", [["kafka", "status"], ["hl7", "listen", "--organisation", "RR8"]]
)
def test_a_setting_of_the_wrong_type_is_named_by_its_variable_in_words(
    command: list[str], tmp_path: Path
) -> None:
    env = stack_env("127.0.0.1:1", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    env["FLOWSIGHT_API_PORT"] = "eight thousand"
    status, output = flowsight(env, *command)
    assert status == 2, output
    flat = " ".join(output.split())
    assert "FLOWSIGHT_API_PORT: Input should be a valid integer" in flat, output
    # Not pydantic's own report: its error type, its links, the value given.
    for pydantics in ("errors.pydantic.dev", "[type=", "eight thousand", "validation error for"):
        assert pydantics not in output, output


def test_kafka_status_asks_for_no_pseudonym_key(tmp_path: Path) -> None:
    # It reads no event and keys nothing: run as production without the key, it answers.
    env = stack_env("127.0.0.1:1", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    env.update(FLOWSIGHT_ENVIRONMENT="production")
    env.pop("FLOWSIGHT_PSEUDONYM_KEY", None)
    status, output = flowsight(env, "kafka", "status")
    assert status == 0, output
    assert '"running": false' in output and "PSEUDONYM_KEY" not in output
