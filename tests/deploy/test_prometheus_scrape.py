"""Debian's real Prometheus scrapes a running flowsight API and answers queries on its series.

The API runs as its own process (no Kafka needed: it starts without one) on loopback; Prometheus
keeps its data in the test's temporary directory. In local mode /metrics is open; outside it,
Prometheus presents a key of the metrics role, as deploy/prometheus and docs/operations.md say.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flowsight.api.auth import new_api_key
from tests.debian import ensure_program
from tests.integration.stack import Stack, free_port, running_stack, stack_env

#: How long Prometheus may take to start, scrape and answer; it scrapes every second.
DEADLINE_SECONDS = 60.0
METRICS_KEY, METRICS_KEY_ENTRY = new_api_key("prometheus", ["metrics"])


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    """Debian's prometheus (package prometheus); a failure with the reason when it cannot be had."""
    try:
        return ensure_program("prometheus", "prometheus")
    except RuntimeError as error:
        pytest.fail(
            f"Debian's prometheus binary is needed to test scraping: {error}", pytrace=False
        )


@pytest.fixture(params=["local", "production"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A flowsight API on a free loopback port, in the mode asked for, with no broker behind it."""
    env = stack_env(
        f"127.0.0.1:{free_port()}",  # nothing listens: the API starts and serves without Kafka
        f"sqlite+aiosqlite:///{tmp_path / 'flowsight.db'}",
        tmp_path,
        api_keys=[METRICS_KEY_ENTRY],
        FLOWSIGHT_ENVIRONMENT=request.param,
    )
    with running_stack(env, tmp_path) as stack:
        stack.start("api")
        stack.wait_until(lambda: _status(f"{stack.api_url}/healthz") == 200, 60, "the API")
        yield stack


def test_prometheus_scrapes_the_api_and_answers_for_its_series(
    prometheus_binary: str, api: Stack, tmp_path: Path
) -> None:
    # A request, so the request counter has a series for the health route.
    assert _status(f"{api.api_url}/healthz") == 200
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(_scrape_config(api, tmp_path)), encoding="utf-8")
    prometheus = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        up = _query_until(base, 'up{job="flowsight-api"}', prometheus)
        assert up[0]["value"][1] == "1", f"Prometheus could not scrape the API: {up}"
        requests = _query_until(
            base, 'flowsight_api_requests_total{job="flowsight-api",route="/healthz"}', prometheus
        )
        assert requests[0]["metric"]["status"] == "200"
        assert float(requests[0]["value"][1]) >= 1
        latency = _query_until(
            base, 'sum(flowsight_api_request_seconds_count{route="/healthz"})', prometheus
        )
        assert float(latency[0]["value"][1]) >= 1
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(15)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()


def _scrape_config(api: Stack, directory: Path) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_name": "flowsight-api",
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [api.api_url.removeprefix("http://")]}],
    }
    if api.env["FLOWSIGHT_ENVIRONMENT"] != "local":
        key_file = directory / "metrics.key"
        key_file.write_text(METRICS_KEY, encoding="utf-8")
        job["authorization"] = {"type": "Bearer", "credentials_file": str(key_file)}
    return {"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}


def _query_until(
    base: str, query: str, prometheus: subprocess.Popen[bytes]
) -> list[dict[str, Any]]:
    """The result of an instant query once it has one, within the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    answer: Any = None
    while time.monotonic() < deadline:
        if prometheus.poll() is not None:
            output = prometheus.stdout.read().decode(errors="replace") if prometheus.stdout else ""
            pytest.fail(f"prometheus exited ({prometheus.returncode}):\n{output[-3000:]}")
        try:
            response = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5)
        except httpx.HTTPError:
            response = None  # not listening yet
        # 503 "Service Unavailable" (plain text) while Prometheus is still starting.
        answer = response.json() if response and response.status_code == 200 else answer
        if answer and answer.get("status") == "success" and answer["data"]["result"]:
            result: list[dict[str, Any]] = answer["data"]["result"]
            return result
        time.sleep(0.5)
    raise AssertionError(f"no result for {query} within {DEADLINE_SECONDS:.0f}s: {answer}")


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=3).status_code
    except httpx.HTTPError:
        return 0
