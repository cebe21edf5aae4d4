"""Writes the state agents' results to the read model the API serves."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.readmodel import store
from schemas.catalogue import Catalogue
from services.journey import JourneyState
from streams.metrics import WorkerMetrics


class ReadModelSink:
    """One transaction per batch: the changed patients' queue entries and service capacity."""

    def __init__(self, engine: AsyncEngine, catalogue: Catalogue, metrics: WorkerMetrics) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.metrics = metrics

    async def write(
        self, journeys: Iterable[JourneyState], capacity: Iterable[dict[str, Any]] = ()
    ) -> None:
        """Replace the read model's rows for these patients and services."""
        states = list(journeys)
        capacity_rows = list(capacity)
        if not states and not capacity_rows:
            return
        started = time.perf_counter()
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            await store.replace_queue_entries(
                connection,
                (state.pseudonym for state in states),
                (entry for state in states for entry in state.queues.values()),
                now,
            )
            await store.replace_capacity(connection, capacity_rows)
            summaries = await store.queue_summaries(connection)
        self.metrics.sink_seconds.observe(time.perf_counter() - started)
        for service in self.catalogue.services:
            summary = summaries.get(service.id)
            self.metrics.queue_length.labels(service.id).set(summary.length if summary else 0)
