"""The worker's port: /healthz for Kubernetes probes beside its Prometheus metrics."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from flowsight.devtools.bench.harness import free_port
from flowsight.worker_health import Health, faust_health, serve_health_and_metrics


def fake_app(*, started: bool = True, stopping: bool = False, crashed: bool = False) -> Any:
    return SimpleNamespace(started=started, should_stop=stopping, crashed=crashed, state="starting")


def agent(name: str, *tasks: asyncio.Future[None] | None) -> Any:
    return SimpleNamespace(name=name, _actors=[SimpleNamespace(actor_task=t) for t in tasks])


async def test_healthy_while_the_app_runs_and_each_agent_has_a_live_actor() -> None:
    running: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    check = faust_health(fake_app(), [agent("validator", running), agent("tracker", running)])

    healthy, detail = check()

    assert healthy
    assert detail["agents"] == {"validator": "alive", "tracker": "alive"}
    running.cancel()


async def test_a_dead_actor_or_a_stopped_app_is_unhealthy() -> None:
    loop = asyncio.get_running_loop()
    running, died = loop.create_future(), loop.create_future()
    died.set_exception(RuntimeError("the agent crashed"))
    died.exception()  # retrieved: no "never retrieved" warning

    dead_agent = faust_health(fake_app(), [agent("validator", running), agent("tracker", died)])
    not_started = faust_health(fake_app(started=False), [agent("validator", running)])
    crashed = faust_health(fake_app(crashed=True), [agent("validator", running)])
    no_actor = faust_health(fake_app(), [agent("tracker")])

    assert dead_agent()[1]["agents"]["tracker"] == "down"
    assert not any(check()[0] for check in (dead_agent, not_started, crashed, no_actor))
    running.cancel()


@pytest.mark.parametrize(("healthy", "status"), [(True, 200), (False, 503)])
def test_the_port_answers_healthz_and_still_serves_the_metrics(healthy: bool, status: int) -> None:
    registry = CollectorRegistry()
    Counter("flowsight_probe_test", "a metric of this test", registry=registry).inc()
    port = free_port()

    def health() -> Health:
        return healthy, {"status": "ok" if healthy else "unhealthy"}

    server = serve_health_and_metrics(port, "127.0.0.1", registry, health)
    try:
        probe = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()

    assert probe.status_code == status
    assert probe.json()["status"] == ("ok" if healthy else "unhealthy")
    assert "flowsight_probe_test_total 1.0" in metrics.text


def test_a_health_check_that_raises_answers_503_not_500() -> None:
    port = free_port()

    def broken() -> Health:
        raise RuntimeError("state unreadable")

    server = serve_health_and_metrics(port, "127.0.0.1", CollectorRegistry(), broken)
    try:
        probe = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        server.shutdown()

    assert probe.status_code == 503
    assert "state unreadable" in probe.json()["error"]
