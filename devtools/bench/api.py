"""`bench api`: requests a second and p99 of the pressure and queue endpoints, against the same
server's liveness endpoint (`/healthz`: no database, no auth) in the same run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flowsight.devtools.bench.harness import Advance, Flowsight, machine_load, stage
from flowsight.devtools.bench.report import Report, median, percentile

PRESSURE_TARGET = (2_000, 25.0)  # requests a second, p99 ms
QUEUE_TARGET = 1_000


@dataclass(frozen=True)
class Load:
    """One endpoint under load: requests, seconds, each request's latency, failures."""

    path: str
    seconds: float
    latencies_ms: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def line(self) -> str:
        return (
            f"{self.rate:>8,.0f} req/s   p50 {median(self.latencies_ms):7.1f} ms   "
            f"p99 {percentile(self.latencies_ms, 0.99):7.1f} ms   failures {self.failures}"
        )


async def load(
    flowsight: Flowsight, path: str, requests: int, concurrency: int, advance: Advance | None
) -> Load:
    """`requests` GETs of `path` by `concurrency` clients sharing one connection pool."""
    latencies: list[float] = []
    failures = 0
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal failures
        for _ in remaining:
            started = time.perf_counter()
            try:
                answer = await client.get(path, timeout=30)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
            if advance:
                advance(1)

    async with httpx.AsyncClient(
        base_url=flowsight.api_url, headers=flowsight.headers, limits=limits
    ) as client:
        await client.get(path, timeout=30)  # warm: connection, first query, caches
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        return Load(path, time.perf_counter() - started, latencies, failures)


async def run_api(
    flowsight: Flowsight,
    state: list[dict[str, Any]],
    requests: int,
    concurrency: int,
    on_commit: Advance | None = None,
    on_request: Advance | None = None,
) -> list[Load]:
    """Build the state, stop the worker (a quiet database), then load each endpoint in turn."""
    await flowsight.create_topics()
    await flowsight.publish(state)
    flowsight.start("worker")
    flowsight.start("api")
    await flowsight.wait_caught_up(len(state), 1800, on_commit)
    await asyncio.sleep(5)  # the refresh after the last batch: figures and pressure stored
    flowsight.stop("worker")
    await flowsight.wait_api()
    service = _busiest_queue(flowsight)
    paths = ["/healthz", "/v1/pressure", f"/v1/services/{service}/queue"]
    return [await load(flowsight, path, requests, concurrency, on_request) for path in paths]


def _busiest_queue(flowsight: Flowsight) -> str:
    answer = httpx.get(f"{flowsight.api_url}/v1/pressure", headers=flowsight.headers, timeout=30)
    services = answer.json()["services"]
    return str(max(services, key=lambda s: s["queue_length"])["id"])


def api_report(loads: list[Load], concurrency: int, events: int) -> Report:
    """The printed result of `bench api`."""
    baseline, pressure, queue = loads
    report = Report(
        f"api: {len(baseline.latencies_ms) + baseline.failures:,} requests per endpoint, "
        f"{concurrency} concurrent (httpx), state of {events:,} events; {machine_load()}"
    )
    report.figure(f"baseline: GET {baseline.path}", baseline.line())
    report.figure(f"GET {pressure.path}", pressure.line())
    report.figure(f"GET {queue.path}", queue.line())
    report.ratio("pressure / healthz req/s", pressure.rate / baseline.rate)
    report.ratio("queue / healthz req/s", queue.rate / baseline.rate)
    p99 = percentile(pressure.latencies_ms, 0.99)
    wanted_rate, wanted_p99 = PRESSURE_TARGET
    report.target(
        f"/v1/pressure ≥ {wanted_rate:,} req/s, p99 ≤ {wanted_p99:.0f} ms",
        f"{pressure.rate:,.0f} req/s, p99 {p99:.1f} ms",
        pressure.rate >= wanted_rate and p99 <= wanted_p99,
    )
    report.target(
        f"queue ≥ {QUEUE_TARGET:,} req/s", f"{queue.rate:,.0f} req/s", queue.rate >= QUEUE_TARGET
    )
    if baseline.rate < wanted_rate:
        report.notes.append(
            f"the client reaches only {baseline.rate:,.0f} req/s on /healthz here: "
            "the target cannot be shown above what the load generator itself can send"
        )
    return report


async def bench_api(
    bootstrap: str,
    directory: Path,
    state: list[dict[str, Any]],
    requests: int,
    concurrency: int,
    database_url: str | None,
    on_commit: Advance | None = None,
    on_request: Advance | None = None,
) -> Report:
    """Run `bench api` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        loads = await run_api(flowsight, state, requests, concurrency, on_commit, on_request)
    return api_report(loads, concurrency, len(state))
