"""Each service's figures per day, and the figures pressure is scored on.

Every service has a row for every day from its first fact (or capacity report) to today. A
row is what `services.report.figures_of` gives for that day as of its end (today: as of now),
with the capacity report in force then; so a day's row is the same whether it was built live,
after a restart or from scratch. The refresh computes, per service:

- the days from its dirty mark's day to today (facts or capacity changed; marked by the sink
  with the facts, once per service with the earliest day a change touched),
- the days since the latest stored row (days on which nothing happened still had patients in
  beds and delays growing), and the latest row again if it was computed before its day ended,
- at start-up, every day of the service's history that has no row or an unfinished one,
- today, as of now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flowsight.adapters.readmodel import facts, purge, store
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.services.facts import LONDON
from flowsight.services.kpis import (
    PRESSURE_WINDOW,
    Figures,
    Period,
    ServiceFacts,
    pressure_period,
)
from flowsight.services.report import figures_of, period_moment
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.daily")
ONE_DAY = timedelta(days=1)
#: Marked days of one service computed per refresh (a year); the next refresh, which follows
#: at once, computes the rest.
DAYS_PER_REFRESH = 366


@dataclass(frozen=True)
class DailyRefresh:
    """What one refresh computed: today's figures and those pressure is scored on."""

    today: dict[str, Figures]
    #: Each service's figures over the last 24 hours (`pressure_period`), as of now.
    pressure: dict[str, Figures]
    #: Dirty days were left for the next refresh.
    more: bool = False


async def refresh_daily(
    engine: AsyncEngine,
    catalogue: Catalogue,
    metrics: WorkerMetrics,
    now: datetime,
    *,
    whole_history: bool = False,
) -> DailyRefresh:
    """Bring every service's daily rows up to date; return today's and pressure's figures.

    `whole_history` also fills every missing or unfinished day since each service's first
    fact (at start-up: rows missing from before, or days the worker was down).
    """
    async with engine.connect() as connection:
        marks = {mark.service_id: mark for mark in await facts.dirty_marks(connection)}
        anomalies = await facts.anomaly_counts(connection)
        summaries = await store.queue_summaries(connection)
    known = {service.id for service in catalogue.services}
    removed = [mark for service_id, mark in marks.items() if service_id not in known]
    if removed:  # removed from the catalogue since: nothing to compute
        async with engine.begin() as connection:
            for mark in removed:
                await facts.clear_mark(connection, mark)
    todays: dict[str, Figures] = {}
    scored_on: dict[str, Figures] = {}
    more = False
    for service in catalogue.services:
        todays[service.id], scored_on[service.id], left = await _refresh_service(
            engine, service, marks.get(service.id), now, whole_history
        )
        more = more or left
        metrics.publish_service_figures(service.id, todays[service.id])
        summary = summaries.get(service.id)
        metrics.queue_length.labels(service.id).set(summary.length if summary else 0)
    metrics.publish_anomalies(anomalies)
    return DailyRefresh(todays, scored_on, more=more)


@dataclass
class _Read:
    """What a service's refresh read: the days to compute and the facts to compute them from."""

    first: date | None
    days: set[date]
    marked_through: date | None
    facts: ServiceFacts
    history: list[tuple[str, int]]


async def _refresh_service(
    engine: AsyncEngine,
    service: Service,
    mark: facts.DirtyMark | None,
    now: datetime,
    whole_history: bool,
) -> tuple[Figures, Figures, bool]:
    """Today's and pressure's figures of a service, and whether marked days were left."""
    today = now.astimezone(LONDON).date()
    # Every read on one connection: under load each statement waits for a turn of the event
    # loop, and a connection's checkout and return are statements too.
    async with engine.connect() as connection:
        while True:
            # Rows on or before a purge's horizon are final: their facts may be gone (purge.py).
            final = await purge.final_through(connection)
            read = await _read(connection, service, mark, now, whole_history, final)
            if await purge.final_through(connection) == final:
                break
            # A purge came between the reads: the facts may lack patients of days it made
            # final, or the service look factless and lose every row. Read again.
    first, days, marked_through = read.first, read.days, read.marked_through
    service_facts, history = read.facts, read.history
    rows = {}
    for day in sorted(days):
        period = Period(*facts.day_bounds(day))
        as_of = period_moment(period, now)
        rows[day] = figures_of(
            service, service_facts, period, as_of, store.in_force(history, as_of)
        )
    scored_on = figures_of(
        service, service_facts, pressure_period(now), now, store.in_force(history, now)
    )
    async with engine.begin() as connection:
        if first is not None:
            computed = {day: figures for day, figures in rows.items() if day >= first}
            await facts.store_days(connection, service.id, computed, now)
        if mark is not None:
            if first is None or (marked_through is not None and marked_through >= mark.through):
                await facts.clear_mark(connection, mark)
            elif marked_through is not None:
                await facts.move_mark(connection, mark, marked_through + ONE_DAY)
            # else days still to come: computed once they have begun
        await facts.drop_days_before(connection, service.id, first)
    left = (
        mark is not None
        and marked_through is not None
        and marked_through < min(today, mark.through)
    )
    return rows[today], scored_on, left


async def _read(
    connection: AsyncConnection,
    service: Service,
    mark: facts.DirtyMark | None,
    now: datetime,
    whole_history: bool,
    final: date | None,
) -> _Read:
    """The days of `service` to compute this refresh, and the facts and capacity since the
    first of them (rows on or before `final` that exist are kept as they are)."""
    today = now.astimezone(LONDON).date()
    first = await facts.first_fact_day(connection, service.id)
    earliest = await purge.earliest_row(connection, service.id) if final else None
    if final and earliest and earliest <= final:
        first = min(first or earliest, earliest)
    stored = (
        await facts.stored_days(connection, service.id, first if whole_history else None)
        if first is not None
        else {}
    )
    days = {today} | _days_to_fill(first, stored, today, whole_history)
    marked_through = None  # the last marked day computed by this refresh
    if mark is not None and first is not None and mark.day <= today:
        start = max(mark.day, first)  # before its first fact: the facts that marked it have gone
        marked_through = min(today, mark.through, start + (DAYS_PER_REFRESH - 1) * ONE_DAY)
        days.update(_days(start, marked_through))
    if final:
        days -= await purge.rows_among(connection, service.id, {d for d in days if d <= final})
    since = min(facts.day_bounds(min(days))[0], now - PRESSURE_WINDOW)
    service_facts = await facts.service_facts(connection, service.id, since=since)
    history = await store.capacity_history(connection, service.id, since)
    return _Read(first, days, marked_through, service_facts, history)


def _days_to_fill(
    first: date | None, stored: Mapping[date, datetime], today: date, whole_history: bool
) -> set[date]:
    """Days before today without a finished row: from the first fact when the whole history
    was read, else from the latest stored row (or the first fact, when there is none)."""
    if first is None:
        return set()
    start = first if whole_history or not stored else max(first, max(stored))
    days = set()
    day = start
    while day < today:
        # A row computed before its day ended holds figures as of then, not as of its end.
        if day not in stored or stored[day] < facts.day_bounds(day)[1]:
            days.add(day)
        day += ONE_DAY
    return days


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY
