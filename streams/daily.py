"""Each service's figures per day, and the figures pressure is scored on.

Every service has a row for every day from its first fact (or capacity report) to today. A
row is what `services.report.figures_of` gives for that day as of its end (today: as of now),
with the capacity report in force then; so a day's row is the same whether it was built live,
after a restart or from scratch. The refresh computes, per service:

- the days marked dirty (facts or capacity changed; marked by the sink with the facts),
- the days since the latest stored row (days on which nothing happened still had patients in
  beds and delays growing), and the latest row again if it was computed before its day ended,
- at start-up, every day of the service's history that has no row or an unfinished one,
- today, as of now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from flowsight.adapters.readmodel import facts, store
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.services.facts import LONDON
from flowsight.services.kpis import PRESSURE_WINDOW, Figures, Period, pressure_period
from flowsight.services.report import figures_of, period_moment
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.daily")
ONE_DAY = timedelta(days=1)
#: Dirty marks taken per refresh; more are taken by the next one, which follows at once.
DIRTY_PER_REFRESH = 500


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
    today = now.astimezone(LONDON).date()
    async with engine.connect() as connection:
        dirty = await facts.dirty_days(connection, DIRTY_PER_REFRESH)
        anomalies = await facts.anomaly_counts(connection)
    marks: dict[str, dict[date, str]] = {}
    for service_id, day, token in dirty:
        if day <= today:  # a day still to come is computed once it has begun
            marks.setdefault(service_id, {})[day] = token
    known = {service.id for service in catalogue.services}
    for service_id in set(marks) - known:  # removed from the catalogue since: nothing to compute
        async with engine.begin() as connection:
            for day, token in marks[service_id].items():
                await facts.store_daily(connection, service_id, day, {}, now, token)
    todays: dict[str, Figures] = {}
    scored_on: dict[str, Figures] = {}
    for service in catalogue.services:
        todays[service.id], scored_on[service.id] = await _refresh_service(
            engine, service, marks.get(service.id, {}), now, whole_history
        )
        metrics.publish_service_figures(service.id, todays[service.id])
    metrics.publish_anomalies(anomalies)
    return DailyRefresh(todays, scored_on, more=len(dirty) >= DIRTY_PER_REFRESH)


async def _refresh_service(
    engine: AsyncEngine,
    service: Service,
    marks: Mapping[date, str],
    now: datetime,
    whole_history: bool,
) -> tuple[Figures, Figures]:
    today = now.astimezone(LONDON).date()
    async with engine.connect() as connection:
        first = await facts.first_fact_day(connection, service.id)
        stored = (
            await facts.stored_days(connection, service.id, first if whole_history else None)
            if first is not None
            else {}
        )
    days = {today} | _days_to_fill(first, stored, today, whole_history)
    days |= {day for day in marks if first is not None and day >= first}
    since = min(facts.day_bounds(min(days))[0], now - PRESSURE_WINDOW)
    async with engine.connect() as connection:
        service_facts = await facts.service_facts(connection, service.id, since=since)
        history = await store.capacity_history(connection, service.id)
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
        for day, figures in rows.items():
            if first is not None and day >= first:
                await facts.store_daily(connection, service.id, day, figures, now, marks.get(day))
        for day, token in marks.items():
            if first is None or day < first:  # the facts that marked it have gone since
                await facts.clear_mark(connection, service.id, day, token)
        await facts.drop_days_before(connection, service.id, first)
    return rows[today], scored_on


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


def days_through(touched: Iterable[tuple[str, date]], today: date) -> set[tuple[str, date]]:
    """Every day from each service's earliest touched day to today, and the touched days.

    A fact that spans days (a stay, a running delay, a waiting referral, an open assessment)
    counts on each day it is under way, so a change to it can change every day after its
    earliest moment; a capacity report is in force until the next.
    """
    days = set(touched)
    earliest: dict[str, date] = {}
    for service_id, day in days:
        earliest[service_id] = min(day, earliest.get(service_id, day))
    for service_id, day in earliest.items():
        while day <= today:
            days.add((service_id, day))
            day += ONE_DAY
    return days
