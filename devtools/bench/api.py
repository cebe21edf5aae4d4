"""`bench api`: requests a second and p50/p99 of the pressure and queue endpoints, against the
same server's liveness endpoint (`/healthz`: no database, no auth) in the same run, with the
API process's CPU time per request.

The load comes from wrk when it is installed (`bench/load.py`), else from a pool of httpx client
processes; the report names which. The caller is a `viewer` API key, as a dashboard's would be.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flowsight.devtools.bench.harness import Advance, Flowsight, cpu_seconds, machine_load, stage
from flowsight.devtools.bench.load import Measured, measure
from flowsight.devtools.bench.report import Report

PRESSURE_TARGET = (2_000, 25.0)  # requests a second, p99 ms
QUEUE_TARGET = 1_000


@dataclass(frozen=True)
class Load:
    """One endpoint under load, and the API process's CPU seconds while it lasted."""

    path: str
    measured: Measured
    server_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.measured.rate

    @property
    def cpu_ms_per_request(self) -> float | None:
        if not self.measured.requests:
            return None
        return self.server_cpu_seconds * 1000 / self.measured.requests

    def line(self) -> str:
        cpu = self.cpu_ms_per_request
        return (
            f"{self.rate:>8,.0f} req/s   p50 {self.measured.p50_ms:7.1f} ms   "
            f"p99 {self.measured.p99_ms:7.1f} ms   failures {self.measured.failures}   "
            + (f"server CPU {cpu:.3f} ms/req" if cpu is not None else "server CPU n/a")
        )


async def load(
    flowsight: Flowsight,
    path: str,
    seconds: float,
    requests: int,
    concurrency: int,
    advance: Advance | None,
) -> Load:
    """GET `path` for `seconds` (or `requests`, when not 0) by `concurrency` connections."""
    async with httpx.AsyncClient(base_url=flowsight.api_url, headers=flowsight.headers) as warm:
        (await warm.get(path, timeout=30)).raise_for_status()  # first query, caches
    pid = flowsight.processes["api"].pid
    before = cpu_seconds(pid)
    measured = await measure(
        flowsight.api_url + path,
        flowsight.headers,
        concurrency,
        seconds,
        requests,
        flowsight.directory,
    )
    after = cpu_seconds(pid)
    if advance:
        advance(1)
    return Load(path, measured, after - before)


async def run_api(
    flowsight: Flowsight,
    state: list[dict[str, Any]],
    seconds: float,
    requests: int,
    concurrency: int,
    on_commit: Advance | None = None,
    on_endpoint: Advance | None = None,
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
    return [
        await load(flowsight, path, seconds, requests, concurrency, on_endpoint) for path in paths
    ]


def _busiest_queue(flowsight: Flowsight) -> str:
    answer = httpx.get(f"{flowsight.api_url}/v1/pressure", headers=flowsight.headers, timeout=30)
    services = answer.json()["services"]
    return str(max(services, key=lambda s: s["queue_length"])["id"])


def api_report(loads: list[Load], concurrency: int, events: int) -> Report:
    """The printed result of `bench api`."""
    baseline, pressure, queue = loads
    report = Report(
        f"api: {pressure.measured.client} ({concurrency} connections), one API process, "
        f"viewer API key, state of {events:,} events; {machine_load()}"
    )
    report.figure(f"baseline: GET {baseline.path}", baseline.line())
    report.figure(f"GET {pressure.path}", pressure.line())
    report.figure(f"GET {queue.path}", queue.line())
    report.ratio("pressure / healthz req/s", pressure.rate / baseline.rate)
    report.ratio("queue / healthz req/s", queue.rate / baseline.rate)
    wanted_rate, wanted_p99 = PRESSURE_TARGET
    p99 = pressure.measured.p99_ms
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
            f"/healthz itself answered only {baseline.rate:,.0f} req/s here: no endpoint of this "
            "server (and client, on a shared machine) can be shown faster than that"
        )
    return report


async def bench_api(
    bootstrap: str,
    directory: Path,
    state: list[dict[str, Any]],
    seconds: float,
    requests: int,
    concurrency: int,
    database_url: str | None,
    on_commit: Advance | None = None,
    on_endpoint: Advance | None = None,
) -> Report:
    """Run `bench api` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        loads = await run_api(
            flowsight, state, seconds, requests, concurrency, on_commit, on_endpoint
        )
    return api_report(loads, concurrency, len(state))
