"""`flowsight up` runs the whole product, shows live simulated data, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import TEST_API_KEY, free_port, listening, processes_with, stack_env

pytestmark = pytest.mark.integration


def test_up_shows_simulated_queues_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    kafka_port, controller_port = free_port(), free_port()
    env = stack_env(
        f"127.0.0.1:{kafka_port}",
        f"sqlite+aiosqlite:///{tmp_path / 'flowsight.db'}",
        tmp_path,
        FLOWSIGHT_KAFKA_CONTROLLER_PORT=str(controller_port),
        FLOWSIGHT_SIMULATOR_HISTORY_DAYS="2",
        FLOWSIGHT_SIMULATOR_VOLUME="3",
    )
    del env["FLOWSIGHT_ENVIRONMENT"]  # `up` is a local trial by itself, and says so
    ports = {
        "kafka": kafka_port,
        "kafka controller": controller_port,
        "api": int(env["FLOWSIGHT_API_PORT"]),
        "worker metrics": int(env["FLOWSIGHT_WORKER_METRICS_PORT"]),
    }
    log = tmp_path / "up.log"
    started = time.monotonic()
    up = subprocess.Popen(
        [sys.executable, "-m", "flowsight", "up"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pressure_url = f"http://127.0.0.1:{ports['api']}/v1/pressure"
    try:
        deadline = time.monotonic() + 180
        system_queue = 0
        while time.monotonic() < deadline and up.poll() is None:
            try:
                response = httpx.get(
                    pressure_url, headers={"Authorization": f"Bearer {TEST_API_KEY}"}, timeout=2
                )
                if response.status_code == 200:
                    system_queue = response.json()["system"]["queue_length"]
                    if system_queue > 0:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        output = log.read_text(errors="replace")
        assert system_queue > 0, f"no simulated queue reached the API:\n{output[-5000:]}"
        print(f"\nflowsight up: non-zero pressure after {time.monotonic() - started:.1f}s")
        assert f"http://127.0.0.1:{ports['api']}/" in output, "up prints where to look"
        assert "LOCAL MODE (FLOWSIGHT_ENVIRONMENT=local)" in output, "up says it is local"
        for name, port in ports.items():
            assert listening(port), f"{name} should be listening on {port} while up runs"
    finally:
        # Ctrl-C at a terminal signals the foreground process group.
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise

    output = log.read_text(errors="replace")
    assert up.returncode == 0, output[-3000:]
    still_listening = [name for name, port in ports.items() if listening(port)]
    assert not still_listening, f"still listening after Ctrl-C: {still_listening}\n{output[-3000:]}"
    leftovers = processes_with(f"FLOWSIGHT_DATA_DIR={tmp_path}")
    assert not leftovers, f"processes left running after Ctrl-C: {leftovers}"


@pytest.mark.parametrize("when", ["while Kafka starts", "once running"])
def test_sigterm_stops_everything_up_started(tmp_path: Path, when: str) -> None:
    kafka_port, controller_port = free_port(), free_port()
    env = stack_env(
        f"127.0.0.1:{kafka_port}",
        f"sqlite+aiosqlite:///{tmp_path / 'flowsight.db'}",
        tmp_path,
        FLOWSIGHT_KAFKA_CONTROLLER_PORT=str(controller_port),
    )
    ports = [kafka_port, controller_port, int(env["FLOWSIGHT_API_PORT"])]
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        [sys.executable, "-m", "flowsight", "up", "--no-simulate"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The broker writes its pid file as soon as it is launched, long before it answers.
    started = (
        (lambda: (tmp_path / "kafka" / "kafka.pid").exists())
        if when == "while Kafka starts"
        else (lambda: "flowsight is running" in log.read_text(errors="replace"))
    )
    try:
        deadline = time.monotonic() + 180
        while not started() and time.monotonic() < deadline and up.poll() is None:
            time.sleep(0.1)
        assert started(), log.read_text(errors="replace")[-3000:]
        # As a service manager stops it: SIGTERM to `up` alone, not to its process group.
        up.send_signal(signal.SIGTERM)
        up.wait(90)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)

    output = log.read_text(errors="replace")
    assert up.returncode == 0, output[-3000:]
    deadline = time.monotonic() + 10
    while any(listening(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [port for port in ports if listening(port)], output[-3000:]
    leftovers = processes_with(f"FLOWSIGHT_DATA_DIR={tmp_path}")
    assert not leftovers, f"processes left running after SIGTERM: {leftovers}\n{output[-3000:]}"
