"""HTTP load for `bench api`: wrk when it is installed, otherwise a pool of client processes.

One Python process with httpx sends a few hundred requests a second at most, less than the API
answers: the client, not the server, would be measured. wrk (C, epoll) sends tens of thousands; the
fallback spreads httpx clients over processes, and says it is the fallback in the report.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import subprocess  # nosec B404 # wrk from an argument list, no shell
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import httpx

WRK_THREADS = 2

#: `wrk --latency` prints durations as a number and a unit.
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class Measured:
    """One endpoint under load: requests answered 200, seconds, latency percentiles, failures."""

    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """The wrk binary on PATH, if any."""
    return shutil.which("wrk")


async def measure(
    url: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    limit: int,
    directory: Path,
) -> Measured:
    """GET `url` for `seconds` (or until `limit` requests, when not 0) over `connections`."""
    wrk = wrk_path()
    if wrk:
        return await _run_wrk(wrk, url, headers, connections, seconds, limit, directory)
    return await _run_processes(url, headers, connections, seconds, limit)


async def _run_wrk(
    wrk: str,
    url: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    limit: int,
    directory: Path,
) -> Measured:
    threads = min(WRK_THREADS, connections)
    script = directory / "wrk-headers.lua"
    script.touch(mode=0o600)  # it holds the API key
    script.write_text(wrk_script(headers, math.ceil(limit / threads) if limit else 0))
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
    return parse_wrk(text, f"wrk -t{threads} -c{connections}")


def wrk_script(headers: dict[str, str], per_thread_limit: int) -> str:
    """A wrk Lua script sending `headers`, each thread stopping after `per_thread_limit`
    answers when not 0 (no `response` callback otherwise: it costs wrk a Lua call an answer)."""
    lines = [f"wrk.headers[{_lua(name)}] = {_lua(value)}" for name, value in headers.items()]
    if per_thread_limit:
        lines += [
            "local answered = 0",
            "function response(status, headers, body)",
            "  answered = answered + 1",
            f"  if answered >= {per_thread_limit} then wrk.thread:stop() end",
            "end",
        ]
    return "\n".join(lines) + "\n"


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wrk(text: str, client: str) -> Measured:
    """The figures of `wrk --latency`'s output; ValueError naming what is missing."""

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, text, re.M)
        if match is None:
            raise ValueError(f"wrk's output has no {pattern!r}:\n{text}")
        return match

    total = found(r"^\s*(\d+) requests in " + _DURATION)
    requests = int(total.group(1))
    seconds = _ms(total.group(2), total.group(3)) / 1000
    p50 = found(r"^\s*50(?:\.0+)?%\s+" + _DURATION)
    p99 = found(r"^\s*99(?:\.0+)?%\s+" + _DURATION)
    refused = 0  # answered, but not 2xx/3xx: counted in wrk's requests
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        refused = int(non_2xx.group(1))
    failures = refused
    if errors := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        failures += sum(int(count) for count in errors.groups())
    return Measured(
        client,
        requests - refused,
        seconds,
        _ms(p50.group(1), p50.group(2)),
        _ms(p99.group(1), p99.group(2)),
        failures,
    )


def _ms(number: str, unit: str) -> float:
    return float(number) * _UNITS_MS[unit]


def _processes(connections: int) -> int:
    return max(1, min(connections, 2 * (os.cpu_count() or 1)))


async def _run_processes(
    url: str, headers: dict[str, str], connections: int, seconds: float, limit: int
) -> Measured:
    processes = _processes(connections)
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    limits = [math.ceil(limit / processes) if limit else 0] * processes
    loop = asyncio.get_running_loop()
    # spawn: a fresh interpreter per client, not a fork of this one's event loop.
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        results = await asyncio.gather(
            *(
                loop.run_in_executor(pool, client_process, url, headers, share, seconds, cap)
                for share, cap in zip(shares, limits, strict=True)
            )
        )
    latencies = sorted(ms for answered, _, _ in results for ms in answered)
    elapsed = max(took for _, _, took in results)
    failures = sum(failed for _, failed, _ in results)

    def quantile(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    client = f"{processes} httpx client processes"
    return Measured(client, len(latencies), elapsed, quantile(0.5), quantile(0.99), failures)


def client_process(
    url: str, headers: dict[str, str], connections: int, seconds: float, limit: int
) -> tuple[list[float], int, float]:
    """One client process: latencies (ms) of the 200 answers, failures, seconds taken."""
    return asyncio.run(_client(url, headers, connections, seconds, limit))


async def _client(
    url: str, headers: dict[str, str], connections: int, seconds: float, limit: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    failures = 0
    pool = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=pool, timeout=30) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def loop() -> None:
            nonlocal failures
            while time.perf_counter() < deadline and not (limit and len(latencies) >= limit):
                sent = time.perf_counter()
                try:
                    ok = (await client.get(url)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    failures += 1

        await asyncio.gather(*(loop() for _ in range(connections)))
        return latencies, failures, time.perf_counter() - started
