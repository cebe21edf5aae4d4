"""The simulated city a benchmark runs on: its events as its sources publish them, census first
(what its services hold when it begins), then its flow, a day at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flowsight.devtools.bench.harness import CENSUS_EVENTS, FLOW_EVENTS_PER_DAY
from flowsight.schemas.catalogue import Catalogue


def city_events(
    catalogue: Catalogue,
    count: int,
    *,
    volume: float = 1.0,
    seed: int = 7,
    days: float | None = None,
) -> list[dict[str, Any]]:
    """The first `count` events of a simulated city that began `days` ago, as its sources
    publish them (census first, then the flow, a day at a time).

    Without `days`, the city begins just long enough ago for `count` events to reach about now:
    a backlog of recent events, as a worker meets it after an outage (figures of old days are
    recomputed when their facts change, so the age of the events matters).
    """
    if days is None:
        flow = max(0.0, count - CENSUS_EVENTS * volume)
        days = max(0.5, flow / (FLOW_EVENTS_PER_DAY * volume))
    return _simulated(catalogue, count, volume, seed, days)[1][:count]


def census_and_flow(
    catalogue: Catalogue, flow: int, *, volume: float = 1.0, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A simulated city's census (what its services hold when it begins: a live system's
    state) and the first `flow` events of its flow after it, reaching about now."""
    days = max(0.5, flow / (FLOW_EVENTS_PER_DAY * volume))
    start, events = _simulated(catalogue, 10**9, volume, seed, days)
    begun = next(
        (i for i, e in enumerate(events) if datetime.fromisoformat(e["occurred_at"]) >= start),
        len(events),
    )
    return events[:begun], events[begun : begun + flow]


def _simulated(
    catalogue: Catalogue, count: int, volume: float, seed: int, days: float
) -> tuple[datetime, list[dict[str, Any]]]:
    """When a city that began `days` ago began, and its events: at least `count` of them, or
    all of them up to now."""
    from flowsight.devtools.simulator.model import City

    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    city = City(catalogue, start, seed=seed, volume=volume)
    events: list[dict[str, Any]] = []
    horizon = start
    while len(events) < count and horizon < now:
        horizon = min(now, horizon + timedelta(days=1))
        events.extend(city.events_until(horizon))
    return start, events
