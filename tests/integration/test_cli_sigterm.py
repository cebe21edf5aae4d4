"""SIGTERM (a service manager, `timeout`, `kill`) stops any command as Ctrl-C does: what it
started stops with it. A benchmark or a soak stopped so had left its broker and its workers
running, each on a core, until someone found them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.stack import live_processes

pytestmark = pytest.mark.integration


def running_in(directory: Path) -> list[int]:
    """The processes alive whose command line names `directory` (a run's own temporary one: the
    benchmark's worker gets an environment of its own, so an environment marker would miss it)."""
    return [pid for pid, command, _ in live_processes() if str(directory).encode() in command]


def test_sigterm_to_a_benchmark_stops_its_broker_and_its_worker(tmp_path: Path) -> None:
    # The benchmark's temporary directory is made under TMPDIR, and its broker and worker name it.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "flowsight", "bench", "pipeline", "--events", "20000"]
    with (tmp_path / "bench.log").open("wb") as log:
        bench = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while not any(b"Faust:Worker" in _command(pid) for pid in running_in(tmp_path)):
            assert bench.poll() is None, (tmp_path / "bench.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the benchmark's worker never started"
            time.sleep(0.5)
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(90) == 130  # stopped as by Ctrl-C, not killed by the signal
        deadline = time.monotonic() + 30
        while running_in(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert running_in(tmp_path) == [], (tmp_path / "bench.log").read_text()[-3000:]
    finally:
        for pid in running_in(tmp_path):  # never leave a broker behind, whatever failed
            os.kill(pid, signal.SIGKILL)
        if bench.poll() is None:
            bench.kill()


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
