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

Behind a backlog, a service's marked days after the latest day that the batches since the
last refresh touched of it (`marked_until`) wait, and all of them if no batch touched it: each
batch of a replay marks every day from its events' to today, and computing them all at every
refresh made a year's replay quadratic in its days. They stay marked, and the next refresh that
has caught up computes them (docs/decisions.md, "Refresh cadence"). The day is each service's,
and of the latest batches only: a replay's sources are not read in step (a small one's whole
year may come in the first batches, then its days again with another source's referrals).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flowsight.adapters.readmodel import daily_rows, facts, purge, store
from flowsight.schemas.catalogue import Catalogue, Service
from flowsight.services.facts import LONDON
from flowsight.services.kpis import (
    PRESSURE_WINDOW,
    Figures,
    Period,
    ServiceFacts,
    pressure_period,
)
from flowsight.services.overlap import facts_per_period
from flowsight.services.report import figures_of, period_moment
from flowsight.streams.metrics import WorkerMetrics

log = logging.getLogger("flowsight.daily")
ONE_DAY = timedelta(days=1)
#: Marked days of one service computed per refresh (a year); the next refresh, which follows
#: at once, computes the rest.
DAYS_PER_REFRESH = 366
#: Services whose facts are read from within this long ago are read together (a week's facts
#: are small); any other alone.
TOGETHER = timedelta(days=7)


@dataclass(frozen=True)
class DailyRefresh:
    """What one refresh computed: today's figures and those pressure is scored on."""

    today: dict[str, Figures]
    #: Each service's figures over the last 24 hours (`pressure_period`), as of now.
    pressure: dict[str, Figures]
    #: Dirty days were left for the next refresh.
    more: bool = False


@dataclass(frozen=True)
class DailyReading:
    """What a refresh reads and computes before it writes: the dirty marks it found, anomaly
    counts for the metrics, and each service's computed rows and figures.
    Picklable: the worker computes it in a process of its own (`streams.figures_process`)."""

    marks: dict[str, daily_rows.DirtyMark]
    anomalies: list[dict[str, Any]]
    computed: dict[str, _Computed]


#: Reads and computes a refresh's figures: `read_daily` on an engine, in this process or another
#: (services, now, whole_history, marked_until).
DailyReader = Callable[
    [Sequence[Service], datetime, bool, Mapping[str, date] | None], Awaitable[DailyReading]
]


async def read_daily(
    engine: AsyncEngine,
    services: Sequence[Service],
    now: datetime,
    whole_history: bool,
    marked_until: Mapping[str, date] | None = None,
) -> DailyReading:
    """The reads of a refresh and the figures computed from them (nothing is written).

    Every service is read in the same few statements (`adapters.readmodel.daily_rows`,
    `facts.services_facts`), not a few per service: under load each statement waits for turns
    of the event loop the batches share. `marked_until`: a service's marked days after its day
    in it, and all of them for a service not in it, are left marked for a later refresh (None:
    every marked day is computed, up to a year a service).
    """
    async with engine.connect() as connection:
        marks = {mark.service_id: mark for mark in await daily_rows.dirty_marks(connection)}
        anomalies = await facts.anomaly_counts(connection)
        computed = await _compute(connection, services, marks, now, whole_history, marked_until)
    return DailyReading(marks, anomalies, computed)


async def refresh_daily(
    engine: AsyncEngine,
    catalogue: Catalogue,
    metrics: WorkerMetrics,
    now: datetime,
    *,
    whole_history: bool = False,
    marked_until: Mapping[str, date] | None = None,
    reader: DailyReader | None = None,
) -> DailyRefresh:
    """Bring every service's daily rows up to date; return today's and pressure's figures.

    `whole_history` also fills every missing or unfinished day since each service's first
    fact (at start-up: rows missing from before, or days the worker was down). A service's
    marked days after its day in `marked_until` (all, for a service not in it) wait for a
    later refresh (behind a backlog). `reader` reads and computes them (by default
    `read_daily` on `engine`, in this process); the rows are written here, on `engine`.
    """
    read = reader or functools.partial(read_daily, engine)
    reading = await read(catalogue.services, now, whole_history, marked_until)
    computed, marks = reading.computed, reading.marks
    known = {service.id for service in catalogue.services}
    # Removed from the catalogue since: nothing to compute.
    removed = [mark for service_id, mark in marks.items() if service_id not in known]
    async with engine.begin() as connection:
        await _store(connection, computed, removed, now)
    for service in catalogue.services:
        today = computed[service.id].today
        metrics.publish_service_figures(service.id, today)
        # As its kind has it: a front door's patients in the department, a hub's assessments.
        metrics.queue_length.labels(service.id).set(today.get("queue_length") or 0)
    metrics.publish_anomalies(reading.anomalies)
    return DailyRefresh(
        {service.id: computed[service.id].today for service in catalogue.services},
        {service.id: computed[service.id].scored_on for service in catalogue.services},
        more=any(service.plan.left(now) for service in computed.values()),
    )


@dataclass(frozen=True)
class _Plan:
    """The days of a service to compute this refresh, and the moment its facts are read from."""

    service: Service
    mark: daily_rows.DirtyMark | None
    first: date | None
    days: set[date]
    marked_through: date | None  # the last marked day computed by this refresh
    since: datetime
    #: Marked days after it wait for a later refresh (`marked_until`).
    until: date | None = None

    def left(self, now: datetime) -> bool:
        """Marked days beyond a year were left for the next refresh (not those that wait)."""
        today = now.astimezone(LONDON).date()
        last = min(today, self.until) if self.until is not None else today
        return (
            self.mark is not None
            and self.marked_through is not None
            and self.marked_through < min(last, self.mark.through)
        )


@dataclass(frozen=True)
class _Computed:
    """A service's computed rows, with today's figures and those pressure is scored on."""

    plan: _Plan
    rows: dict[date, Figures]
    today: Figures
    scored_on: Figures


async def _compute(
    connection: AsyncConnection,
    services: Sequence[Service],
    marks: Mapping[str, daily_rows.DirtyMark],
    now: datetime,
    whole_history: bool,
    marked_until: Mapping[str, date] | None,
) -> dict[str, _Computed]:
    """Every service's rows to store and figures, from reads between two of the purge horizon."""
    while True:
        # Rows on or before a purge's horizon are final: their facts may be gone (purge.py).
        final = await purge.final_through(connection)
        plans = await _plans(connection, services, marks, now, whole_history, final, marked_until)
        computed: dict[str, _Computed] = {}
        for group in _groups(plans, now):
            since = {plan.service.id: plan.since for plan in group}
            read = await facts.services_facts(connection, since)
            histories = await store.capacity_histories(connection, since)
            for plan in group:
                computed[plan.service.id] = _figures(
                    plan, read[plan.service.id], histories[plan.service.id], now
                )
                # A service's figures hold the loop for up to tens of milliseconds: let the
                # agents' batches in between services, not only after all of them.
                await asyncio.sleep(0)
        if await purge.final_through(connection) == final:
            return computed
        # A purge came between the reads: the facts may lack patients of days it made final,
        # or a service look factless and lose every row. Read again.


def _groups(plans: list[_Plan], now: datetime) -> list[list[_Plan]]:
    """The services read together: those whose facts are read from within TOGETHER of now;
    any other (a backlog of marked days, a start-up's history) alone, so that only one
    service's long history is in memory at a time."""
    recent = [plan for plan in plans if plan.since >= now - TOGETHER]
    return [recent] + [[plan] for plan in plans if plan.since < now - TOGETHER]


async def _plans(
    connection: AsyncConnection,
    services: Sequence[Service],
    marks: Mapping[str, daily_rows.DirtyMark],
    now: datetime,
    whole_history: bool,
    final: date | None,
    marked_until: Mapping[str, date] | None,
) -> list[_Plan]:
    """The days of each service to compute this refresh (rows on or before `final` that exist
    are kept as they are; a service's marked days after its day in `marked_until`, or all
    of them if it is not in it, wait)."""
    today = now.astimezone(LONDON).date()
    firsts = await facts.first_fact_days(connection, [service.id for service in services])
    if final:  # a service's final rows may be older than its facts left by the purge
        earliest = await daily_rows.earliest_days(connection)
        for service_id, first in list(firsts.items()):
            row = earliest.get(service_id)
            if row is not None and row <= final:
                firsts[service_id] = min(first or row, row)
    if whole_history:
        since = {service_id: first for service_id, first in firsts.items() if first}
        stored = await daily_rows.stored_days(connection, since)
    else:
        latest = await daily_rows.latest_days(connection)
        stored = {service_id: {day: at} for service_id, (day, at) in latest.items()}
    days: dict[str, set[date]] = {}
    marked: dict[str, date | None] = {}
    # Each service's last marked day this refresh may compute (date.min: none; None: any).
    until = {
        service.id: None if marked_until is None else marked_until.get(service.id, date.min)
        for service in services
    }
    for service in services:
        first, mark = firsts[service.id], marks.get(service.id)
        days[service.id] = {today} | _days_to_fill(
            first, stored.get(service.id, {}), today, whole_history
        )
        through = None
        if mark is not None and first is not None and mark.day <= today:
            start = max(mark.day, first)  # before its first fact: the facts that marked it went
            through = min(today, mark.through, start + (DAYS_PER_REFRESH - 1) * ONE_DAY)
            last = until[service.id]
            if last is not None:
                through = min(through, last)
            if through >= start:
                days[service.id].update(_days(start, through))
            else:  # every marked day waits
                through = None
        marked[service.id] = through
    if final:
        candidates = {key: {day for day in span if day <= final} for key, span in days.items()}
        for service_id, kept in (await daily_rows.days_among(connection, candidates)).items():
            days[service_id] -= kept
    return [
        _Plan(
            service,
            marks.get(service.id),
            firsts[service.id],
            days[service.id],
            marked[service.id],
            min(daily_rows.day_bounds(min(days[service.id]))[0], now - PRESSURE_WINDOW),
            until[service.id],
        )
        for service in services
    ]


def _figures(
    plan: _Plan, service_facts: ServiceFacts, history: list[tuple[str, int]], now: datetime
) -> _Computed:
    service = plan.service
    days = sorted(plan.days)
    periods = [Period(*daily_rows.day_bounds(day)) for day in days]
    moments = [period_moment(period, now) for period in periods]
    # Each day over the facts that can count in it, not over the year a backlog read.
    each_day = facts_per_period(service_facts, periods, moments)
    rows = {}
    for day, period, as_of, day_facts in zip(days, periods, moments, each_day, strict=True):
        rows[day] = figures_of(service, day_facts, period, as_of, store.in_force(history, as_of))
    # A service that has reported nothing (no fact, no capacity report) has nothing to score:
    # its queue of 0 is not known to be 0, and scored it read as OPEL 1, steady.
    scored_on = (
        figures_of(service, service_facts, pressure_period(now), now, store.in_force(history, now))
        if plan.first is not None
        else {}
    )
    today = now.astimezone(LONDON).date()
    return _Computed(plan, rows, rows[today], scored_on)


async def _store(
    connection: AsyncConnection,
    computed: Mapping[str, _Computed],
    removed: list[daily_rows.DirtyMark],
    now: datetime,
) -> None:
    """Store the computed rows (from each service's first fact on), clear or move the marks
    they computed, and drop rows from before each service's first fact."""
    plans = [service.plan for service in computed.values()]
    await daily_rows.store_days(
        connection,
        {
            service_id: {day: f for day, f in service.rows.items() if day >= first}
            for service_id, service in computed.items()
            if (first := service.plan.first) is not None
        },
        now,
    )
    cleared, moved = list(removed), []
    for plan in plans:
        mark, through = plan.mark, plan.marked_through
        if mark is None:
            continue
        if plan.first is None or (through is not None and through >= mark.through):
            cleared.append(mark)
        elif through is not None:
            moved.append((mark, through + ONE_DAY))
        # else days still to come: computed once they have begun
    await daily_rows.clear_marks(connection, cleared)
    await daily_rows.move_marks(connection, moved)
    await daily_rows.drop_days_before(connection, {plan.service.id: plan.first for plan in plans})


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
        if day not in stored or stored[day] < daily_rows.day_bounds(day)[1]:
            days.add(day)
        day += ONE_DAY
    return days


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY
