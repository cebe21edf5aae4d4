"""The sizes task: rows per read-model table and entries per Faust table, as gauges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sized

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel import alert_tables, purge  # noqa: F401 # their tables counted
from flowsight.adapters.readmodel.tables import metadata
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.worker")
#: Counting rows scans tables on PostgreSQL: once a minute is plenty for sizes that grow slowly.
SIZES_EVERY_SECONDS = 60.0


async def measure(
    engine: AsyncEngine, tables: Mapping[str, Sized], metrics: WorkerMetrics
) -> dict[str, int]:
    """Set the size gauges; return the read model's row counts by table."""
    for name, held in tables.items():
        metrics.state_entries.labels(name).set(len(held))
    rows = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            query = select(func.count()).select_from(table)
            rows[table.name] = int((await connection.execute(query)).scalar_one())
    for name, count in rows.items():
        metrics.readmodel_rows.labels(name).set(count)
    return rows


def state_sizes(
    engine: AsyncEngine,
    tables: Mapping[str, Sized],
    metrics: WorkerMetrics,
    should_stop: Callable[[], bool],
    every_seconds: float = SIZES_EVERY_SECONDS,
) -> Callable[[], Awaitable[None]]:
    """The worker's task measuring sizes every `every_seconds`."""

    async def sizes() -> None:
        """Publish the read model's and the Faust tables' sizes."""
        while not should_stop():
            try:
                await measure(engine, tables, metrics)
            except (SQLAlchemyError, OSError) as error:  # the database may be away: again later
                log.warning("could not count the read model's rows: %s", type(error).__name__)
            await asyncio.sleep(every_seconds)

    return sizes
