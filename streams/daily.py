"""Each service's figures per day: recomputed for the days facts changed, and for today."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel import facts, store
from flowsight.schemas.catalogue import Catalogue
from flowsight.services.facts import LONDON
from flowsight.services.kpis import Figures, Period, service_figures
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.daily")
#: Figures "as of the end of a day" are taken just before midnight.
_END_OF_DAY = timedelta(microseconds=1)


async def refresh_daily(
    engine: AsyncEngine, catalogue: Catalogue, metrics: WorkerMetrics, now: datetime
) -> dict[str, Figures]:
    """Recompute the dirty days and today's figures of every service; return today's."""
    async with engine.connect() as connection:
        dirty = await facts.dirty_days(connection)
        capacity = await store.capacities(connection)
        anomalies = await facts.anomaly_counts(connection)
    today = now.astimezone(LONDON).date()
    work = sorted(set(dirty) | {(service.id, today) for service in catalogue.services})
    todays: dict[str, Figures] = {}
    for service_id, day in work:
        service = catalogue.service(service_id)
        start, end = facts.day_bounds(day)
        async with engine.begin() as connection:
            if service is None:  # removed from the catalogue since: nothing to compute
                await facts.store_daily(connection, service_id, day, {}, now)
                continue
            service_facts = await facts.service_facts(connection, service_id, since=start)
            reported = capacity.get(service_id)
            figures = service_figures(
                service,
                service_facts,
                Period(start, end),
                min(end - _END_OF_DAY, now),
                reported["open"] if reported else None,
            )
            await facts.store_daily(connection, service_id, day, figures, now)
        if day == today:
            todays[service_id] = figures
            metrics.publish_service_figures(service_id, figures)
    metrics.publish_anomalies(anomalies)
    return todays
