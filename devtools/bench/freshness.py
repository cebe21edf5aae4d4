"""`bench freshness`: from a producer's send to the change in `GET /v1/pressure` and on
`/v1/stream`, while simulated events are offered at a steady rate.

Probes are capacity reports of one bed-based service, each with an open-bed count no other report
has and alternately far above and far below its beds (so its occupancy, and its pressure score,
move each time). The baseline is the broker's own round trip: a probe's send until acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.devtools.bench.harness import Advance, Flowsight, machine_load, stage
from flowsight.devtools.bench.report import Report, median, percentile
from flowsight.schemas.catalogue import Service
from flowsight.schemas.codes import CapacityUnit

TARGET_P99_MS = 500
POLL_SECONDS = 0.05


@dataclass
class Probe:
    """One capacity report sent, and when each view showed it."""

    open: int
    sent: float
    acked: float = 0.0
    in_pressure: float | None = None
    on_stream: float | None = None


@dataclass
class Probes:
    """The probes of a run, and the stream's pressure events of the probed service."""

    service: Service
    sent: list[Probe] = field(default_factory=list)
    stream_events: list[float] = field(default_factory=list)

    def see_pressure(self, body: dict[str, Any], now: float) -> None:
        shown = next((s for s in body["services"] if s["id"] == self.service.id), None)
        opened = (shown or {}).get("capacity") or {}
        for probe in self.sent:
            if probe.in_pressure is None and opened.get("open") == probe.open:
                probe.in_pressure = now

    def match_stream(self) -> None:
        """Each probe's stream latency: the first change of its service after the probe reached
        the read model (seen in /v1/pressure) and before the next probe did; pressure is scored
        from the read model, so no earlier change can carry it."""
        landed = [p for p in self.sent if p.in_pressure is not None]
        for probe, following in zip(landed, [*landed[1:], None], strict=True):
            since = probe.in_pressure or 0.0
            until = (following.in_pressure or since) if following else float("inf")
            probe.on_stream = next((t for t in self.stream_events if since < t <= until), None)


def probed_service(flowsight: Flowsight) -> Service:
    """The first bed-based service with a capacity: its occupancy is scored."""
    return next(
        s
        for s in flowsight.catalogue.services
        if s.capacity_unit == CapacityUnit.BEDS and s.capacity
    )


def probe_event(service: Service, open_beds: int) -> dict[str, Any]:
    """A capacity report of `service`, occurring now, as its organisation's system sends it."""
    return {
        "event_id": f"probe-{uuid.uuid4().hex}",
        "schema_version": "1",
        "event_type": "capacity",
        "source": f"{service.organisation}/bench",
        "occurred_at": datetime.now(UTC).isoformat(),
        "service": service.id,
        "open": open_beds,
        "total": service.capacity,
        "unit": service.capacity_unit.value,
    }


async def _offer(
    flowsight: Flowsight, events: list[dict[str, Any]], rate: float, advance: Advance | None
) -> None:
    """Publish `events` at `rate` a second, a tenth of a second's worth at a time."""
    step = max(1, round(rate / 10))
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with EventPublisher(flowsight.settings) as publisher:
        for index in range(0, len(events), step):
            await publisher.publish_by_source(events[index : index + step])
            if advance:
                advance(step)
            await asyncio.sleep(max(0.0, started + (index + step) / rate - loop.time()))


async def _send_probes(flowsight: Flowsight, probes: Probes, count: int, every: float) -> None:
    total = probes.service.capacity or 1
    async with EventPublisher(flowsight.settings) as publisher:
        for number in range(count):
            await asyncio.sleep(every)
            # Far above the beds, then far below: occupancy (and the score) moves every time.
            open_beds = total * 20 + number if number % 2 == 0 else 1 + number
            probe = Probe(open_beds, time.perf_counter())
            probes.sent.append(probe)
            await publisher.publish_by_source([probe_event(probes.service, open_beds)])
            probe.acked = time.perf_counter()


async def _poll_pressure(flowsight: Flowsight, probes: Probes, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=flowsight.api_url, headers=flowsight.headers) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get("/v1/pressure", timeout=10)
                if answer.status_code == 200:
                    probes.see_pressure(answer.json(), time.perf_counter())
            await asyncio.sleep(POLL_SECONDS)


async def _follow_stream(flowsight: Flowsight, probes: Probes) -> None:
    async with httpx.AsyncClient(base_url=flowsight.api_url, headers=flowsight.headers) as client:
        async with client.stream("GET", "/v1/stream", timeout=None) as answer:
            kind = ""
            async for line in answer.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:") and kind == "pressure":
                    body = orjson.loads(line.removeprefix("data:").strip())
                    if body.get("scope") == probes.service.id:
                        probes.stream_events.append(time.perf_counter())


async def run_freshness(
    flowsight: Flowsight,
    background: list[dict[str, Any]],
    rate: float,
    probe_every: float,
    advance: Advance | None = None,
) -> Probes:
    """Offer `background` at `rate` while probing; wait for the probes' changes to show."""
    await flowsight.create_topics()
    flowsight.start("worker")
    flowsight.start("api")
    await flowsight.wait_api()
    service = probed_service(flowsight)
    probes = Probes(service)
    stop = asyncio.Event()
    watchers = [
        asyncio.create_task(_poll_pressure(flowsight, probes, stop)),
        asyncio.create_task(_follow_stream(flowsight, probes)),
    ]
    count = max(2, int(len(background) / rate / probe_every))
    await asyncio.gather(
        _offer(flowsight, background, rate, advance),
        _send_probes(flowsight, probes, count, probe_every),
    )
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline and any(p.in_pressure is None for p in probes.sent):
        flowsight.check_alive()
        await asyncio.sleep(0.5)
    await asyncio.sleep(min(10.0, max(0.0, deadline - time.perf_counter())))  # the stream's last
    stop.set()
    for watcher in watchers:
        watcher.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    probes.match_stream()
    return probes


def freshness_report(probes: Probes, rate: float) -> Report:
    """The printed result of `bench freshness`."""
    acked = [(p.acked - p.sent) * 1000 for p in probes.sent]
    pressure = [(p.in_pressure - p.sent) * 1000 for p in probes.sent if p.in_pressure]
    stream = [(p.on_stream - p.sent) * 1000 for p in probes.sent if p.on_stream]
    report = Report(
        f"freshness: {rate:,.0f} events/s offered, {len(probes.sent)} probes "
        f"(capacity of {probes.service.id}); {machine_load()}"
    )
    for name, values in (
        ("baseline: send → broker ack", acked),
        ("send → GET /v1/pressure", pressure),
        ("send → /v1/stream", stream),
    ):
        report.figure(
            name,
            f"p50 {median(values):8.0f} ms   p99 {percentile(values, 0.99):8.0f} ms   ({len(values)} of {len(probes.sent)} seen)",
        )
    for name, values in (("pressure", pressure), ("stream", stream)):
        report.ratio(f"{name} p50 / broker ack p50", median(values) / max(median(acked), 1e-9))
        p99 = percentile(values, 0.99)
        missing = len(probes.sent) - len(values)
        report.target(
            f"{name} p99 ≤ {TARGET_P99_MS} ms at 1,000 events/s",
            f"p99 {p99:,.0f} ms, {missing} probe(s) never seen, at {rate:,.0f} events/s",
            p99 <= TARGET_P99_MS and not missing and rate >= 1000,
        )
    return report


async def bench_freshness(
    bootstrap: str,
    directory: Path,
    background: list[dict[str, Any]],
    rate: float,
    probe_every: float,
    database_url: str | None,
    advance: Advance | None = None,
) -> Report:
    """Run `bench freshness` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        probes = await run_freshness(flowsight, background, rate, probe_every, advance)
    return freshness_report(probes, rate)
