"""`flowsight bench`: measured throughput and latency, each against a baseline of the same run."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from flowsight.schemas.catalogue import Catalogue
from flowsight.schemas.events import organisation_of
from flowsight.services.batch import apply_batch
from flowsight.services.journey import Event, ServiceMap
from flowsight.services.validation import Accepted, ValidationContext, validate_document

LATENESS = timedelta(days=7)


@dataclass(frozen=True)
class Measurement:
    """Throughput and per-batch latency of one way of processing the same events."""

    name: str
    events: int
    seconds: float
    batch_latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.batch_latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.rate:>12,.0f} events/s   "
            f"batch p50 {statistics.median(self.batch_latencies_ms):7.2f} ms   "
            f"p99 {self.percentile(0.99):7.2f} ms"
        )


def simulated_events(
    catalogue: Catalogue, days: float, volume: float, seed: int = 7
) -> list[bytes]:
    """The simulator's events for `days`, validated and pseudonymised as on the events topic."""
    from flowsight.devtools.simulator.model import City

    now = datetime.now(UTC)
    city = City(catalogue, now - timedelta(days=days), seed=seed, volume=volume)
    context = ValidationContext(catalogue, b"benchmark-pseudonym-key-000000000000", timedelta(0))
    encoded = []
    for event in city.events_until(now):
        outcome = validate_document(
            event, organisation=organisation_of(event["source"]), context=context, now=now
        )
        if isinstance(outcome, Accepted) and "pseudonym" in outcome.event:
            encoded.append(orjson.dumps(outcome.event))
    return encoded


def _batches(events: list[bytes], size: int) -> Iterable[list[bytes]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def _measure(
    name: str, events: list[bytes], batch_size: int, process: Callable[[list[bytes]], None]
) -> Measurement:
    latencies = []
    started = time.perf_counter()
    for batch in _batches(events, batch_size):
        batch_started = time.perf_counter()
        process(batch)
        latencies.append((time.perf_counter() - batch_started) * 1000)
    return Measurement(name, len(events), time.perf_counter() - started, latencies)


def bench_core(
    catalogue: Catalogue, events: list[bytes], batch_size: int = 500
) -> tuple[Measurement, Measurement]:
    """The domain core as the state agent runs it, and a baseline: decode and group only."""
    services = ServiceMap.of(catalogue)
    grouped: dict[str, list[Any]] = defaultdict(list)

    def baseline(batch: list[bytes]) -> None:
        # The least any processor must do: decode each event and file it under its patient.
        for raw in batch:
            body = orjson.loads(raw)
            grouped[body["pseudonym"]].append(body)

    stored: dict[str, list[Event]] = {}
    capacity: dict[str, Event] = {}

    def core(batch: list[bytes]) -> None:
        # Decode, then fold the batch as the tracker agent does between reading the topic and
        # writing the sink: record (dedupe, lateness, order), replay each changed patient once.
        changes = apply_batch(
            [orjson.loads(raw) for raw in batch], stored.get, capacity.get, LATENESS, services
        )
        for pseudonym, journey in changes.journeys.items():
            stored[pseudonym] = journey.to_stored()
        capacity.update(changes.capacity)

    return (
        _measure("baseline: decode + group by patient", events, batch_size, baseline),
        _measure("core: record + replay per batch", events, batch_size, core),
    )
