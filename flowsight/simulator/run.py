"""Publish the simulated city's events to the organisations' ingest topics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaProducer

from flowsight.settings import Settings
from flowsight.simulator.model import City
from schemas.catalogue import Catalogue

log = logging.getLogger("flowsight.simulator")


async def simulate(
    settings: Settings,
    catalogue: Catalogue,
    *,
    history: timedelta,
    volume: float,
    duration: float | None = None,
    on_published: Callable[[int], None] | None = None,
) -> int:
    """Replay `history` of the city as fast as the rate allows, then follow the wall clock.

    Returns the number of events published. Runs until `duration` seconds pass, or forever.
    """
    now = datetime.now(UTC)
    city = City(catalogue, now - history, seed=settings.simulator_seed, volume=volume)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    loop = asyncio.get_running_loop()
    stop_at = None if duration is None else loop.time() + duration
    interval = 1.0 / settings.simulator_rate
    published = 0
    try:
        while stop_at is None or loop.time() < stop_at:
            started = loop.time()
            batch = list(city.events_until(min(datetime.now(UTC), city.next_time())))
            for event in batch:
                organisation = event["source"].split("/", 1)[0]
                await producer.send(
                    settings.ingest_topic(organisation),
                    key=str(event.get("episode_id", event["service"])).encode(),
                    value=orjson.dumps(event),
                )
                published += 1
            if on_published and batch:
                on_published(len(batch))
            if not batch:
                # Caught up with the wall clock: wait for the next step, a second at most.
                wait = (city.next_time() - datetime.now(UTC)).total_seconds()
                await asyncio.sleep(min(max(wait, 0.05), 1.0))
            else:
                await asyncio.sleep(max(0.0, interval * len(batch) - (loop.time() - started)))
        await producer.flush()
    finally:
        await producer.stop()
    log.info("simulator published %d events", published)
    return published
