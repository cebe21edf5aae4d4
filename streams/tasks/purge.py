"""The purge task: journeys past their retention leave the worker's state and the read model.

Each round looks at the `journeys` table of the partitions this worker holds (Faust keeps only
those in the table), chooses with `services.retention`, deletes the chosen keys from the table
(each delete writes a tombstone to the changelog, so a restarted worker does not bring them
back) and then their read-model rows. Choosing and deleting from the table happen with no
await between them, so the tracker cannot change a journey in between; a patient whose next
event arrives while their rows are being deleted has their rows written again afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flowsight.adapters.readmodel.purge import purge_patients
from flowsight.services.journey import ServiceMap, replay
from flowsight.services.retention import select_purged
from flowsight.services.timestamps import utc_timestamp
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink

log = logging.getLogger("flowsight.worker")


class PatientPurge:
    """Purges the journeys of this worker's partitions whose retention has passed."""

    def __init__(
        self,
        journeys: MutableMapping[str, Any],
        sink: ReadModelSink,
        services: ServiceMap,
        metrics: WorkerMetrics,
        keep_for: timedelta,
    ) -> None:
        self.journeys = journeys
        self.sink = sink
        self.services = services
        self.metrics = metrics
        self.keep_for = keep_for

    async def once(self, now: datetime) -> list[str]:
        """One round at `now`: the pseudonyms purged."""
        selection = select_purged(list(self.journeys.items()), now, self.keep_for, self.services)
        for pseudonym in selection.purge:
            del self.journeys[pseudonym]
        self.metrics.silent_open_journeys.set(selection.silent_open)
        if selection.purge:
            async with self.sink.engine.begin() as connection:
                await purge_patients(
                    connection, selection.purge, utc_timestamp(now - self.keep_for), now
                )
            back = [pseudonym for pseudonym in selection.purge if pseudonym in self.journeys]
            if back:  # a new event arrived while the rows were deleted: its journey goes on
                states = [replay(p, list(self.journeys[p]), self.services) for p in back]
                await self.sink.write(states)
            self.metrics.purged_patients.inc(len(selection.purge))
            log.info("purged %d patients past their retention", len(selection.purge))
        self.metrics.purge_rounds.inc()
        return selection.purge

    def task(
        self, ready: Callable[[], bool], should_stop: Callable[[], bool], every_seconds: float
    ) -> Callable[[], Awaitable[None]]:
        """The worker's task: a round every `every_seconds` while the tables are `ready()`
        (recovered, not rebalancing: a half-restored journey looks older than it is)."""

        async def purge() -> None:
            while not should_stop():
                await asyncio.sleep(every_seconds)
                if not ready():
                    continue
                try:
                    await self.once(datetime.now(UTC))
                except Exception:  # the next round tries again; the rule gives the same answer
                    log.exception("journeys past their retention could not be purged")

        return purge
