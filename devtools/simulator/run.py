"""Publish the simulated city's events to the organisations' ingest topics."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flowsight.adapters.kafka.producer import EventPublisher
from flowsight.devtools.simulator.clock import Event
from flowsight.devtools.simulator.model import City
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings

log = logging.getLogger("flowsight.devtools.simulator")
#: Events sent together while catching up (the rate paces the batches).
CATCH_UP_BATCH = 500


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
    """Publish the city's census and its past up to now as fast as the rate allows, then
    follow the wall clock.

    The past is published patient by patient (`catch_up_batches`): the worker's figures are
    as of the wall clock, and a past published in time order, an hour of it at a time, left
    every patient of the hour being sent in the department, in a bed or delayed since days
    before now until their later events came (the whole department over four hours).

    Returns the number of events published. Runs until `duration` seconds pass, or forever.
    """
    city = City(catalogue, run.start, seed=run.seed, volume=run.volume)
    loop = asyncio.get_running_loop()
    stop_at = None if duration is None else loop.time() + duration
    interval = 1.0 / settings.simulator_rate
    published = 0
    async with EventPublisher(settings) as publisher:
        while stop_at is None or loop.time() < stop_at:
            due = catch_up_batches(list(city.events_until(datetime.now(UTC))))
            if not due:
                # Caught up with the wall clock: wait for the next step, a second at most.
                wait = (city.next_time() - datetime.now(UTC)).total_seconds()
                await asyncio.sleep(min(max(wait, 0.05), 1.0))
            for batch in due:
                started = loop.time()
                published += await publisher.publish_by_source(batch)
                if on_published:
                    on_published(len(batch))
                await asyncio.sleep(max(0.0, interval * len(batch) - (loop.time() - started)))
                if stop_at is not None and loop.time() >= stop_at:
                    break
    log.info("simulator published %d events", published)
    return published


def catch_up_batches(events: list[Event], size: int = CATCH_UP_BATCH) -> list[list[Event]]:
    """`events` (in time order) as the simulator publishes its past: the capacity reports first,
    in time order; then each patient's events together and in time order, in batches of whole
    patients of about `size` events, the patients in an order unrelated to time (a hash of
    their NHS number).

    Whatever batches the worker has read, a patient it holds in the department, a bed or a
    delay is one who is still there now (their departure, if due by now, came with them), and
    those it holds are a fair sample of the city now: patients in their time order filled the
    department with its longest waits first.
    """
    reports: list[Event] = []
    journeys: dict[str, list[Event]] = {}
    for event in events:
        patient = event.get("patient")
        if patient is None:
            reports.append(event)
        else:
            journeys.setdefault(patient["nhs_number"], []).append(event)
    batches, batch = [], reports
    for number in sorted(journeys, key=lambda number: zlib.crc32(number.encode())):
        if len(batch) >= size:
            batches.append(batch)
            batch = []
        batch.extend(journeys[number])
    return [*batches, batch] if batch else batches
