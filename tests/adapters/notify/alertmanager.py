"""A real Prometheus Alertmanager on loopback, from Debian's packages, for alert tests."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from tests.debian import ensure_program

BINARY = Path("/usr/bin/prometheus-alertmanager")
#: Every alert goes to a receiver that notifies no one: the tests read the alerts API.
CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def install() -> None:
    """Install Debian's prometheus-alertmanager if missing; RuntimeError saying why if not."""
    if not BINARY.exists():
        ensure_program(BINARY.name, "prometheus-alertmanager")


class LocalAlertmanager:
    """One Alertmanager with its own config and storage in `directory`, clustering off."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.url = f"http://127.0.0.1:{port}"
        self.log = directory / "alertmanager.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until /-/ready answers; RuntimeError with its log if it does not."""
        config = self.directory / "alertmanager.yml"
        config.write_text(CONFIG)
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(BINARY),
                    f"--config.file={config}",
                    f"--storage.path={self.directory / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    "--cluster.listen-address=",  # no gossip: one instance, port 9094 untouched
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Alertmanager did not become ready:\n{output}")
            time.sleep(0.2)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
        self._process = None
