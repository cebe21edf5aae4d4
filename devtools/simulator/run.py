"""Publish the simulated city's events to the organisations' ingest topics."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.devtools.simulator.model import City
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings

log = logging.getLogger("flowsight.devtools.simulator")
CATCH_UP_STEP = timedelta(hours=1)


@dataclass(frozen=True)
class CityRun:
    """Where a simulated city began, and its seed: the same run replays the same events."""

    start: datetime
    seed: int
    volume: float

    @classmethod
    def resume_or_begin(
        cls, path: Path, *, history: timedelta, volume: float, seed: int | None, fresh: bool
    ) -> tuple[CityRun, bool]:
        """The run recorded at `path` (True), or a new one beginning `history` ago (False).

        Resuming replays the same events from the same start: the ones already published are
        absorbed as duplicates, so a restarted simulator neither doubles the city nor strands
        the patients it was moving through their journeys.
        """
        if path.exists() and not fresh:
            recorded = json.loads(path.read_text())
            return cls(
                datetime.fromisoformat(recorded["start"]), recorded["seed"], recorded["volume"]
            ), True
        run = cls(
            datetime.now(UTC) - history,
            seed if seed is not None else random.SystemRandom().randrange(2**31),
            volume,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"start": run.start.isoformat(), "seed": run.seed, "volume": run.volume})
        )
        return run, False


async def simulate(
    settings: Settings,
    catalogue: Catalogue,
    run: CityRun,
    *,
    duration: float | None = None,
    on_published: Callable[[int], None] | None = None,
) -> int:
    """Publish the city's census, replay it from its start as fast as the rate allows, then
    follow the wall clock.

    Returns the number of events published. Runs until `duration` seconds pass, or forever.
    """
    city = City(catalogue, run.start, seed=run.seed, volume=run.volume)
    loop = asyncio.get_running_loop()
    stop_at = None if duration is None else loop.time() + duration
    interval = 1.0 / settings.simulator_rate
    published = 0
    async with EventPublisher(settings) as publisher:
        while stop_at is None or loop.time() < stop_at:
            started = loop.time()
            # Catching up, take an hour of the city at a time (the census first): one instant
            # at a time would publish its thousands of past events one by one.
            horizon = min(datetime.now(UTC), city.next_time() + CATCH_UP_STEP)
            batch = list(city.events_until(horizon))
            published += await publisher.publish_by_source(batch)
            if on_published and batch:
                on_published(len(batch))
            if not batch:
                # Caught up with the wall clock: wait for the next step, a second at most.
                wait = (city.next_time() - datetime.now(UTC)).total_seconds()
                await asyncio.sleep(min(max(wait, 0.05), 1.0))
            else:
                await asyncio.sleep(max(0.0, interval * len(batch) - (loop.time() - started)))
    log.info("simulator published %d events", published)
    return published
