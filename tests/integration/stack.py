"""Runs the real flowsight processes (worker, API) against the test broker and database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from flowsight.api.auth import new_api_key
from flowsight.devtools.bench.harness import free_port
from flowsight.settings import Settings

#: A key with every reading role, granted to each test stack's API.
TEST_API_KEY, TEST_API_KEY_ENTRY = new_api_key(
    "integration-tests", ["viewer", "caseload", "oncall"]
)

#: The pseudonym key every test process uses, so tests can compute the pseudonyms they expect.
TEST_PSEUDONYM_KEY = "integration-test-pseudonym-key-0123456789abcdef"


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


@dataclass
class Running:
    """A flowsight process started by a test, with its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@dataclass
class Stack:
    """One isolated flowsight: its own topics, app id, database and ports, on the shared broker."""

    env: dict[str, str]
    directory: Path
    processes: dict[str, Running] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        overrides = {
            key.removeprefix("FLOWSIGHT_").lower(): value
            for key, value in self.env.items()
            if key.startswith("FLOWSIGHT_")
        }
        return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['FLOWSIGHT_API_PORT']}"

    @property
    def worker_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['FLOWSIGHT_WORKER_METRICS_PORT']}/metrics"

    def start(self, command: str, *args: str) -> Running:
        log = self.directory / f"{command}.log"
        handle = log.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsight", command, *args],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running = Running(command, process, log)
        self.processes[command] = running
        return running

    def start_worker(self) -> Running:
        return self.start("worker")

    def start_api(self, timeout: float = 60) -> Running:
        running = self.start("api")
        self.wait_until(
            lambda: _answers(f"{self.api_url}/readyz"), timeout, f"the API at {self.api_url}"
        )
        return running

    def wait_until(self, condition: Any, timeout: float, what: str) -> Any:
        """Poll `condition` until it returns something truthy; fail with every process's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for running in self.processes.values():
                if running.process.poll() is not None and running.name != "publish":
                    raise AssertionError(
                        f"`flowsight {running.name}` exited ({running.process.returncode}) "
                        f"while waiting for {what}:\n{running.output()[-4000:]}"
                    )
            result = condition()
            if result:
                return result
            time.sleep(0.5)
        logs = "\n".join(f"--- {r.name}\n{r.output()[-3000:]}" for r in self.processes.values())
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")

    def worker_metrics(self) -> str:
        """The worker's metrics page; empty while it does not answer."""
        try:
            return httpx.get(self.worker_metrics_url, timeout=5).text
        except httpx.HTTPError:
            return ""

    def worker_metric(self, name: str, **labels: str) -> float | None:
        """One sample from the worker's metrics page, or None when it is not (yet) there."""
        for family in text_string_to_metric_families(self.worker_metrics()):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return None

    def get(self, path: str, *, key: str | None = TEST_API_KEY) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.get(f"{self.api_url}{path}", headers=headers, timeout=10)

    def stop_all(self) -> None:
        for running in reversed(list(self.processes.values())):
            running.stop()


#: What separates the arguments in /proc/<pid>/cmdline.
NUL = b"\0"


def live_processes() -> Iterator[tuple[int, bytes, bytes]]:
    """Each live process but this one (no zombie): its pid, command line and environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command, environment = (
                (entry / "cmdline").read_bytes(),
                (entry / "environ").read_bytes(),
            )
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if state not in ("Z", "X"):
            yield int(entry.name), command, environment


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes whose environment contains `marker`."""
    return [
        f"{pid}: {command.replace(NUL, b' ').decode()}"
        for pid, command, environment in live_processes()
        if marker.encode() in environment
    ]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stack_env(
    bootstrap: str,
    database_url: str,
    directory: Path,
    *,
    api_keys: Sequence[str] = (),
    **extra: str,
) -> dict[str, str]:
    """The environment of one isolated stack: unique namespace and app id, free ports.

    `api_keys` are extra `FLOWSIGHT_API_KEYS` entries (e.g. a publisher's) beside the test key.
    """
    unique = uuid.uuid4().hex[:10]
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWSIGHT_")}
    env.update(
        {
            "FLOWSIGHT_ENVIRONMENT": "local",
            "FLOWSIGHT_KAFKA_BOOTSTRAP": bootstrap,
            "FLOWSIGHT_TOPIC_NAMESPACE": f"t{unique}",
            "FLOWSIGHT_APP_ID": f"flowsight-test-{unique}",
            "FLOWSIGHT_DATABASE_URL": database_url,
            "FLOWSIGHT_DATA_DIR": str(directory),
            "FLOWSIGHT_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
            "FLOWSIGHT_API_KEYS": ",".join([TEST_API_KEY_ENTRY, *api_keys]),
            "FLOWSIGHT_API_PORT": str(free_port()),
            "FLOWSIGHT_WORKER_METRICS_PORT": str(free_port()),
            "FLOWSIGHT_SINK_BATCH_SECONDS": "0.2",
            "FLOWSIGHT_LAG_SAMPLE_SECONDS": "1",
            "FLOWSIGHT_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@contextmanager
def running_stack(env: dict[str, str], directory: Path) -> Iterator[Stack]:
    stack = Stack(env, directory)
    try:
        yield stack
    finally:
        stack.stop_all()
