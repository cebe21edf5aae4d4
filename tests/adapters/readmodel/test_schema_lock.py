"""Workers starting together on an empty database: one migrates, the others wait, none fails."""

from __future__ import annotations

import asyncio
import subprocess  # nosec B404 # our own interpreter, argument lists
import sys
import time
from pathlib import Path

from flowsight.adapters.readmodel.database import create_engine
from flowsight.adapters.readmodel.migrate import current_revision, head_revision

#: Imports, says it is ready, then waits for the start signal, so the upgrades begin together.
UPGRADE = """
import os, sys, time
from pathlib import Path
from flowsight.adapters.readmodel.schema_lock import upgrade_exclusively
start = Path(sys.argv[2])
start.with_name(f"ready-{os.getpid()}").touch()
while not start.exists():
    time.sleep(0.005)
upgrade_exclusively(sys.argv[1])
"""
UPGRADES = 4


async def _revision(url: str) -> str | None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        revision = await current_revision(connection)
    await engine.dispose()
    return revision


def test_processes_upgrading_an_empty_sqlite_database_at_once_all_succeed(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}"
    start = tmp_path / "start"
    # Started together, as a deployment's workers are: unlocked, all but one failed.
    upgrades = [
        subprocess.Popen(  # nosec B603 # our own interpreter, argument lists
            [sys.executable, "-c", UPGRADE, url, str(start)], stderr=subprocess.PIPE
        )
        for _ in range(UPGRADES)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < UPGRADES and time.monotonic() < deadline:
        time.sleep(0.05)
    start.touch()
    failures = [
        process.stderr.read().decode()[-2000:]
        for process in upgrades
        if process.wait(120) != 0 and process.stderr is not None
    ]

    assert failures == []
    assert asyncio.run(_revision(url)) == head_revision()
