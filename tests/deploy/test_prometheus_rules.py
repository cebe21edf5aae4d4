"""The Prometheus alerting rules shipped in deploy/ are valid and fire on the OPEL levels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.debian import ensure_program

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool (package prometheus); a failure, never a skip, when it cannot be had."""
    try:
        return ensure_program("promtool", "prometheus")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


def test_rules_are_valid(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES / "flowsight.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_fire_on_the_levels_the_worker_publishes(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "test", "rules", "flowsight.test.yml"], cwd=RULES, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
