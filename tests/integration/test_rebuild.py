"""`flowsight rebuild` on real parts: a read model rebuilt from the topics into an empty
database, under a new app id, holds what the live one holds, purged patients left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowsight.devtools.bench.replay import COMPARED, london_today
from tests.integration.feeds import pseudonym_of
from tests.integration.lifecycle import (
    numbers,
    patient_rows,
    publish_events,
    read_model,
    settled,
    stay_events,
)
from tests.integration.stack import running_stack, stack_env

pytestmark = pytest.mark.integration


def test_the_rebuilt_read_model_equals_the_live_one(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    today = london_today()  # both read models' figures cut at the day the test started
    gone, home, in_bed, waiting = numbers(4)
    env = stack_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        FLOWSIGHT_DAILY_REFRESH_SECONDS="1",
        FLOWSIGHT_PURGE_INTERVAL_SECONDS="1",
    )
    with running_stack(env, tmp_path) as stack:
        stack.start_worker()
        stack.wait_until(stack.worker_metrics, 120, "the worker")
        publish_events(
            stack,
            [
                *stay_events(gone, "lth-wards", 130, 120),  # past the 90 days' retention
                *stay_events(home, "lth-wards", 20, 3),
                *stay_events(in_bed, "lth-wards", 6, None),
                *stay_events(waiting, "lch-community-beds", 2, None),
            ],
        )
        stack.wait_until(
            lambda: (
                (stack.worker_metric("flowsight_purged_patients_total") or 0) >= 1
                and settled(database_url, 3)
            ),
            120,
            "the live read model",
        )
        rebuilt = f"sqlite+aiosqlite:///{tmp_path / 'rebuilt.db'}"
        # From the environment, as docs/operations.md says to pass a URL holding a password.
        done = subprocess.run(
            [sys.executable, "-m", "flowsight", "rebuild"],
            env={**stack.env, "FLOWSIGHT_REBUILD_DATABASE_URL": rebuilt},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "rebuilt" in done.stderr

        assert read_model(rebuilt, COMPARED, today) == read_model(database_url, COMPARED, today)
        left = repr(pseudonym_of(gone))
        assert not [r for rows in patient_rows(rebuilt).values() for r in rows if left in r]
