"""The lag task: how far behind the worker is on the topics it reads, as the broker sees it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

from flowsight.adapters.kafka.lag import ConsumerLag, consumed_topics
from flowsight.schemas.catalogue import Catalogue
from flowsight.settings import Settings
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")


def lag_watch(
    settings: Settings,
    catalogue: Catalogue,
    metrics: WorkerMetrics,
    should_stop: Callable[[], bool],
) -> Callable[[], Awaitable[None]]:
    """The worker's task publishing its consumer lag every `lag_sample_seconds`."""

    async def watch_lag() -> None:
        """Publish how far behind the worker is on the topics it reads, as the broker sees it."""
        lag = ConsumerLag(settings, settings.app_id, consumed_topics(settings, catalogue))
        try:
            while not should_stop():
                # First sample after one interval: by then the worker has joined its group.
                await asyncio.sleep(settings.lag_sample_seconds)
                try:
                    for topic, behind in (await lag.measure()).items():
                        metrics.consumer_lag.labels(topic).set(behind)
                except KafkaError as error:  # the broker may be restarting; ask again later
                    # No figure rather than the last one: a lag of 0 while the broker is away
                    # reads as "caught up" (`absent()` in an alert rule sees the gap).
                    metrics.consumer_lag.clear()
                    log.warning("could not measure the consumer lag: %s", error)
        finally:
            await lag.close()

    return watch_lag
