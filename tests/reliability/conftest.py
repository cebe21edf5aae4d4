"""The fault suite's one run: every fault injected at once, each on its own isolated stage (most
of a fault is waiting: an outage's seconds, a killed member's session), the first time a test asks
for it. Each test then checks its own fault's outcome, and the session writes docs/reliability.md
from all of them, so one `pytest tests/reliability` regenerates the file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowsight.devtools.bench.harness import machine_load
from flowsight.devtools.faults.campaign import run_campaign
from flowsight.devtools.faults.outcome import Outcome, write_report
from flowsight.devtools.faults.stage import Plan
from tests.reliability.known import KNOWN

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"

#: The CI run: bounded so the whole folder stays within three minutes on a quiet 2-CPU machine.
CI_PLAN = Plan()


@pytest.fixture(scope="session")
def faults(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Outcome]]:
    """Every fault's outcome (the campaign runs once per session); the report written after."""
    started = time.monotonic()
    outcomes = asyncio.run(
        run_campaign(kafka_bootstrap, tmp_path_factory.mktemp("faults"), CI_PLAN)
    )
    for name, outcome in outcomes.items():
        if not outcome.harmless and name in KNOWN:
            outcome.known = KNOWN[name]
    seconds = time.monotonic() - started
    yield outcomes
    write_report(
        REPORT,
        outcomes.values(),
        how="`pytest tests/reliability` (the CI plan: "
        f"{CI_PLAN.events:,} simulated events per stage, all faults at once)",
        seconds=seconds,
        context=machine_load(),
    )
