"""`bench freshness`: from a producer's send to the change in `GET /v1/pressure` and on
`/v1/stream`, while simulated events are offered at a steady rate.

The city's census (what its services hold when it begins) is published and taken in first, as a
live system holds its state; then its flow is offered at the rate, with the probes. Taking in a
census is a bulk load, whose speed `bench replay` and `bench pipeline` measure: offered at the
rate, it put the run's first probes behind ten thousand patients' admissions.

Probes are capacity reports of one bed-based service, alternately one open bed (its occupancy
far over its level-4 threshold while any bed is taken) and twenty times its beds (occupancy far
under its level-2 threshold): each probe moves its occupancy indicator's level, so its score, and
the stream pushes the change. A probe is seen in a view once the view shows the service's
occupancy level the probe brings, scored (`as_of`) after the probe was sent; a probe whose
successor is seen first is seen then (the newer score counts it too). The stream sends changes
only: a probe scored with its successor (neither shown alone) whose level the stream already
shows gets no event, and is shown there from its pressure record on. Each probe is also
followed through the stages between: the validator's record on the events topic, its capacity row
in `GET /v1/pressure`, and the worker's pressure record (the refresh that scored it began at its
`as_of` and published it at its timestamp). Times are wall-clock: the worker's and the API's
timestamps are compared with the bench's. The baseline is the broker's own round trip: a probe's
send until acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.adapters.kafka.security import client_options
from flowsight.devtools.bench.harness import (
    Advance,
    Flowsight,
    cpu_seconds,
    histogram_totals,
    machine_load,
    stage,
)
from flowsight.devtools.bench.probes import EMPTY, FULL, INDICATOR, Probe, Probes
from flowsight.devtools.bench.replay import wait_figures
from flowsight.devtools.bench.report import Report, median, percentile
from flowsight.schemas.catalogue import Service

TARGET_P99_MS = 500
POLL_SECONDS = 0.05


def probed_service(flowsight: Flowsight) -> Service:
    """The first bed-based service with a capacity whose occupancy is scored."""
    return next(
        s
        for s in flowsight.catalogue.services
        if s.has_beds and s.capacity and INDICATOR in s.thresholds
    )


def probe_event(service: Service, open_beds: int, occurred_at: str) -> dict[str, Any]:
    """A capacity report of `service`, as its organisation's system sends it. An empty-ward
    probe opens more beds than the catalogue's (a surge), so it reports them as its total: a
    report with more open than in all is refused."""
    return {
        "event_id": f"probe-{uuid.uuid4().hex}",
        "schema_version": "1",
        "event_type": "capacity",
        "source": f"{service.organisation}/bench",
        "occurred_at": occurred_at,
        "service": service.id,
        "open": open_beds,
        "total": max(service.capacity or 0, open_beds),
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
            full = number % 2 == 0
            probe = Probe(1 if full else total * 20, FULL if full else EMPTY, time.time())
            event = probe_event(probes.service, probe.open, probe.occurred_at)
            probes.ids[event["event_id"]] = probe
            probes.sent.append(probe)
            await publisher.publish_by_source([event])
            probe.acked = time.time()


async def _poll_pressure(flowsight: Flowsight, probes: Probes, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=flowsight.api_url, headers=flowsight.headers) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get("/v1/pressure", timeout=10)
                if answer.status_code == 200:
                    probes.see_pressure(answer.json(), time.time())
            await asyncio.sleep(POLL_SECONDS)


async def _follow_stream(flowsight: Flowsight, probes: Probes) -> None:
    """Follow `/v1/stream` as a browser's EventSource does: on an answer that is not a stream,
    an error or an end, connect again after a second from the last event id; each reason a
    connection ended is kept for the report."""
    last_id: str | None = None
    async with httpx.AsyncClient(base_url=flowsight.api_url, headers=flowsight.headers) as client:
        while True:
            resume = {"Last-Event-ID": last_id} if last_id else {}
            try:
                async with client.stream(
                    "GET", "/v1/stream", headers=resume, timeout=None
                ) as answer:
                    if answer.status_code != 200:
                        probes.stream_ends.append(f"HTTP {answer.status_code}")
                        await asyncio.sleep(1)
                        continue
                    kind = ""
                    async for line in answer.aiter_lines():
                        if line.startswith("event:"):
                            kind = line.removeprefix("event:").strip()
                        elif line.startswith("id:"):
                            last_id = line.removeprefix("id:").strip() or last_id
                        elif line.startswith("data:") and kind == "pressure":
                            body = orjson.loads(line.removeprefix("data:").strip())
                            seen = probes.see_score(body, time.time())
                            if seen is not None:
                                probes.stream.append(seen)
                    probes.stream_ends.append(f"ended by the server after {kind or 'nothing'}")
            except httpx.HTTPError as error:
                probes.stream_ends.append(type(error).__name__)
            await asyncio.sleep(1)


async def _follow_topics(
    flowsight: Flowsight, probes: Probes, ready: asyncio.Event, stop: asyncio.Event
) -> None:
    """The validator's probe records on the events topic, and the worker's pressure records."""
    settings = flowsight.settings
    consumer = AIOKafkaConsumer(
        settings.events_topic,
        settings.pressure_topic,
        **client_options(settings),
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        # Every partition of both topics before the probes go: one assigned later starts at its
        # end (`latest`), past a probe's record sent meanwhile (a busy host missed one so).
        while not _assigned_whole(consumer, (settings.events_topic, settings.pressure_topic)):
            await consumer.getmany(timeout_ms=200)
        for tp in consumer.assignment():
            await consumer.position(tp)
        ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for tp, records in batch.items():
                for record in records:
                    _take(probes, tp.topic == settings.pressure_topic, record, now)
    finally:
        await consumer.stop()


def _assigned_whole(consumer: AIOKafkaConsumer, topics: tuple[str, ...]) -> bool:
    """Whether `consumer` holds every partition of each of `topics`."""
    assigned = consumer.assignment()
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions or {tp.partition for tp in assigned if tp.topic == topic} != partitions:
            return False
    return True


def _take(probes: Probes, is_pressure: bool, record: Any, now: float) -> None:
    stamp = record.timestamp / 1000
    if is_pressure:
        seen = probes.see_score(orjson.loads(record.value), now, stamp)
        if seen is not None:
            probes.records.append(seen)
    elif b'"probe-' in record.value:
        probe = probes.ids.get(orjson.loads(record.value).get("event_id", ""))
        if probe is not None:
            probe.validated = stamp


async def run_freshness(
    flowsight: Flowsight,
    census: list[dict[str, Any]],
    background: list[dict[str, Any]],
    rate: float,
    probe_every: float,
    advance: Advance | None = None,
) -> Probes:
    """Take in the city's `census` (a live system's state), then offer `background` at `rate`
    while probing; wait for the probes' changes to show."""
    await flowsight.create_topics()
    flowsight.start("worker")
    flowsight.start("api")
    await flowsight.wait_api()
    service = probed_service(flowsight)
    probes = Probes(service)
    started = time.perf_counter()
    await flowsight.publish(census)
    await flowsight.wait_caught_up(len(census), 600)
    await wait_figures(flowsight)  # and its days' figures computed, as a live system's are
    probes.census = (len(census), time.perf_counter() - started)
    stop, ready = asyncio.Event(), asyncio.Event()
    watchers = [
        asyncio.create_task(_poll_pressure(flowsight, probes, stop)),
        asyncio.create_task(_follow_stream(flowsight, probes)),
        asyncio.create_task(_follow_topics(flowsight, probes, ready, stop)),
    ]
    await asyncio.wait_for(ready.wait(), 60)
    count = max(2, int(len(background) / rate / probe_every))
    await asyncio.gather(
        _offer(flowsight, background, rate, advance),
        _send_probes(flowsight, probes, count, probe_every),
    )
    probes.cpu = {name: cpu_seconds(flowsight.processes[name].pid) for name in ("worker", "api")}
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline and not _all_seen(probes):
        flowsight.check_alive()
        await asyncio.sleep(0.5)
    port = flowsight.settings.worker_metrics_port
    probes.refreshes = await histogram_totals(port, "flowsight_refresh_seconds")
    probes.writes = await histogram_totals(port, "flowsight_sink_batch_seconds")
    probes.rescores = await histogram_totals(port, "flowsight_rescore_seconds")
    stop.set()
    for watcher in watchers:
        watcher.cancel()
    for result in await asyncio.gather(*watchers, return_exceptions=True):
        if isinstance(result, Exception):  # a view the run could not follow is reported
            probes.stream_ends.append(f"{type(result).__name__}: {result}")
    probes.match()
    return probes


def _all_seen(probes: Probes) -> bool:
    probes.match()
    last = probes.sent[-1]
    return all(p.validated for p in probes.sent) and bool(last.in_pressure and last.on_stream)


#: The figures printed: what each measures, and the stages a probe went from and to. The parts
#: are each stage alone, probe by probe: on a busy machine the stages before wait too.
SPANS = (
    ("baseline: send → broker ack", "sent", "acked"),
    ("stage: send → validator's record", "sent", "validated"),
    ("stage: send → capacity row in /v1/pressure", "sent", "in_capacity"),
    ("stage: send → refresh that scored it began", "sent", "refresh_began"),
    ("stage: send → its pressure record published", "sent", "published"),
    ("send → GET /v1/pressure", "sent", "in_pressure"),
    ("send → /v1/stream", "sent", "on_stream"),
    ("part: validator's record → pressure record", "validated", "published"),
    ("part: pressure record → GET /v1/pressure", "published", "in_pressure"),
    ("part: pressure record → /v1/stream", "published", "on_stream"),
)


def _between(probes: Probes, start: str, end: str) -> list[float]:
    """Each probe's milliseconds from one stage to a later one, where both were seen."""
    spans = ((getattr(p, start), getattr(p, end)) for p in probes.sent)
    return [(to - since) * 1000 for since, to in spans if since is not None and to is not None]


def freshness_report(probes: Probes, rate: float) -> Report:
    """The printed result of `bench freshness`."""
    acked = _between(probes, "sent", "acked")
    pressure = _between(probes, "sent", "in_pressure")
    stream = _between(probes, "sent", "on_stream")
    report = Report(
        f"freshness: {rate:,.0f} events/s offered, {len(probes.sent)} probes "
        f"(capacity of {probes.service.id}, occupancy level {FULL}/{EMPTY} in turn); "
        f"{machine_load()}"
    )
    patients, took = probes.census
    report.figure(
        "census taken in first (a live system's state)", f"{patients:,} events in {took:.1f} s"
    )
    report.figure(
        "CPU seconds used", ", ".join(f"{name} {used:.1f}" for name, used in probes.cpu.items())
    )
    for what, (count, seconds) in (
        ("worker's refreshes (figures, pressure)", probes.refreshes),
        ("worker's batches written to the read model", probes.writes),
        ("worker's rescores (a capacity report, at once)", probes.rescores),
    ):
        report.figure(
            what, f"{count:.0f}, mean {seconds / count * 1000:.0f} ms" if count else "none measured"
        )
    report.figure(
        "stream: probes already shown, no event",
        f"{probes.unrepeated} (the probe before not scored, the score the one shown)",
    )
    report.figure(
        "stream: connections that ended early",
        "; ".join(probes.stream_ends) if probes.stream_ends else "none",
    )
    for name, start, end in SPANS:
        values = _between(probes, start, end)
        report.figure(
            name,
            f"p50 {median(values):8.0f} ms   p99 {percentile(values, 0.99):8.0f} ms   "
            f"({len(values)} of {len(probes.sent)} seen)",
        )
    # In the order sent: a tail at the start (the first refresh, the census) is not one spread
    # over the run.
    report.figure(
        "each probe, send → GET /v1/pressure",
        " ".join(
            "-" if p.in_pressure is None else f"{(p.in_pressure - p.sent) * 1000:.0f}"
            for p in probes.sent
        )
        + " ms",
    )
    slowest = max(
        (p for p in probes.sent if p.in_pressure is not None),
        key=lambda p: (p.in_pressure or 0) - p.sent,
        default=None,
    )
    if slowest is not None:
        number = probes.sent.index(slowest) + 1
        report.figure(
            f"the slowest probe (no. {number}), its stages",
            ", ".join(
                f"{what} {'-' if at is None else f'{(at - slowest.sent) * 1000:.0f}'}"
                for what, at in (
                    ("acked", slowest.acked),
                    ("validated", slowest.validated),
                    ("capacity row", slowest.in_capacity),
                    ("refresh began", slowest.refresh_began),
                    ("published", slowest.published),
                    ("pressure", slowest.in_pressure),
                    ("stream", slowest.on_stream),
                )
            )
            + " ms after its send",
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
    census: list[dict[str, Any]],
    background: list[dict[str, Any]],
    rate: float,
    probe_every: float,
    database_url: str | None,
    advance: Advance | None = None,
) -> Report:
    """Run `bench freshness` on its own stage."""
    with stage(bootstrap, directory, database_url) as flowsight:
        probes = await run_freshness(flowsight, census, background, rate, probe_every, advance)
    return freshness_report(probes, rate)
