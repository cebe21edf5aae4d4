"""`bench replay`: a simulated city-period from empty topics to its final state (every fact and
every day's figures stored), and the same events built live (published in hourly steps to a
running worker): the two read models must hold identical figures. The baseline is a plain
aiokafka consumer reading the replayed topics in the same run."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Table, func, make_url, select
from sqlalchemy.ext.asyncio import create_async_engine

from flowsight.adapters.kafka.security import client_options
from flowsight.adapters.readmodel.tables import (
    anomalies,
    assessments,
    attendances,
    capacity_reports,
    delays,
    queue_entries,
    referrals,
    service_capacity,
    service_daily,
    service_daily_dirty,
    stays,
)
from flowsight.devtools.bench.harness import (
    CENSUS_EVENTS,
    FLOW_EVENTS_PER_DAY,
    Advance,
    Flowsight,
    histogram_totals,
    machine_load,
    stage,
)
from flowsight.devtools.bench.pipeline import raw_consume
from flowsight.devtools.bench.report import Report, rate
from flowsight.devtools.local.postgres import drop_database
from flowsight.services.facts import LONDON

log = logging.getLogger(__name__)

TARGET_SECONDS = 300.0
COMPARED: tuple[Table, ...] = (
    queue_entries,
    service_capacity,
    capacity_reports,
    stays,
    delays,
    referrals,
    attendances,
    assessments,
    anomalies,
    service_daily,
)
#: When a row was written, not what it says.
_WRITTEN_AT = "updated_at"
LIVE_STEP = 500
#: The dead-letter header that says why an event was refused.
_REASON = "error.reason"


@dataclass(frozen=True)
class Build:
    """One way of building the read model: its time and what it holds."""

    how: str
    seconds: float
    content: dict[str, list[tuple[Any, ...]]]
    #: Events dead-lettered by either agent, by reason (`too_late`, ...).
    refused: Counter[str] = field(default_factory=Counter)
    #: Of `seconds`, until every record was committed (the rest: the figures of every day).
    committed: float = 0.0
    #: The worker's refreshes (figures, pressure) meanwhile: how many, and their seconds.
    refreshes: tuple[float, float] = (0.0, 0.0)


def london_today() -> date:
    """Today in Europe/London, the day the read model's figures are dated by."""
    return datetime.now(UTC).astimezone(LONDON).date()


async def read_model(flowsight: Flowsight, before: date) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared table's rows, sorted, without write times; the figures of `before` and
    later left out (they are as of the moment each build last refreshed).

    Read models compared with each other are read with the same `before`, the day their run
    started: one read after midnight would otherwise hold the figures of a day the other,
    read before it, left out as today's.
    """
    engine = create_async_engine(flowsight.settings.resolved_database_url)
    content = {}
    try:
        async with engine.connect() as connection:
            for table in COMPARED:
                columns = [c for c in table.c if c.name != _WRITTEN_AT]
                query = select(*columns)
                if table is service_daily:
                    query = query.where(service_daily.c.day < before)
                rows = await connection.execute(query)
                content[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    finally:
        await engine.dispose()
    return content


async def dead_letters(flowsight: Flowsight) -> Counter[str]:
    """The dead-letter topic's records by reason, from its beginning to its end now."""
    consumer = AIOKafkaConsumer(**client_options(flowsight.settings), enable_auto_commit=False)
    await consumer.start()
    reasons: Counter[str] = Counter()
    try:
        topic = flowsight.settings.dlq_topic
        await consumer._client.force_metadata_update()  # a fresh consumer knows no topic yet
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return reasons
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        left = {p for p in partitions if ends[p]}
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for partition, messages in batches.items():
                for message in messages:
                    reason = dict(message.headers).get(_REASON, b"?").decode()
                    reasons[reason] += 1
                if messages and messages[-1].offset + 1 >= ends[partition]:
                    left.discard(partition)
    finally:
        await consumer.stop()
    return reasons


async def wait_figures(flowsight: Flowsight, within: float = 600) -> None:
    """Wait until no day waits for its figures (the refresh task has caught up)."""
    engine = create_async_engine(flowsight.settings.resolved_database_url)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            flowsight.check_alive()
            async with engine.connect() as connection:
                waiting = (
                    await connection.execute(select(func.count()).select_from(service_daily_dirty))
                ).scalar_one()
                computed = (
                    await connection.execute(select(func.count()).select_from(service_daily))
                ).scalar_one()
            if not waiting and computed:
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise TimeoutError(f"daily figures still waiting after {within:.0f}s")


async def build_live(
    flowsight: Flowsight, events: list[dict[str, Any]], advance: Advance | None, today: date
) -> Build:
    """A running worker, the events published in steps while it works."""
    await flowsight.create_topics()
    flowsight.start("worker")
    started = time.perf_counter()
    for index in range(0, len(events), LIVE_STEP):
        await flowsight.publish(events[index : index + LIVE_STEP], advance)
    await flowsight.wait_caught_up(len(events), 1800)
    await wait_figures(flowsight)
    seconds = time.perf_counter() - started
    content = await read_model(flowsight, today)
    return Build("live", seconds, content, await dead_letters(flowsight))


async def build_replay(
    flowsight: Flowsight, events: list[dict[str, Any]], advance: Advance | None, today: date
) -> tuple[Build, float]:
    """Everything published first, then one worker: the replay; and the raw consumer's time."""
    await flowsight.create_topics()
    await flowsight.publish(events)
    raw_seconds = await raw_consume(flowsight, len(events))
    started = time.perf_counter()
    flowsight.start("worker")
    committed = await flowsight.wait_caught_up(len(events), 1800, advance) - started
    await wait_figures(flowsight)
    seconds = time.perf_counter() - started
    refreshes = await histogram_totals(
        flowsight.settings.worker_metrics_port, "flowsight_refresh_seconds"
    )
    content, refused = await read_model(flowsight, today), await dead_letters(flowsight)
    return Build("replay", seconds, content, refused, committed, refreshes), raw_seconds


def differences(live: Build, replay: Build) -> list[str]:
    """Each table whose rows differ between the builds, with counts; and the dead letters,
    when the builds refused different events."""
    out = []
    if live.refused != replay.refused:
        out.append(
            f"dead letters: live {_reasons(live.refused)}, replay {_reasons(replay.refused)}"
        )
    for table, rows in live.content.items():
        other = replay.content[table]
        if rows != other:
            only_live = len(set(rows) - set(other))
            only_replay = len(set(other) - set(rows))
            out.append(f"{table}: {only_live} row(s) only live, {only_replay} only replayed")
    return out


@asynccontextmanager
async def fresh_databases(url: str, *builds: str) -> AsyncIterator[list[str]]:
    """A new, empty PostgreSQL database for each build, beside `url`'s on its server (the role
    of `url` must be allowed to create databases), dropped on the way out: each build's read
    model starts empty, and the one named is never written. A database that cannot be dropped
    is named in a warning, not raised: the run's figures are kept."""
    server = make_url(url)
    connection = await asyncpg.connect(
        host=server.host,
        port=server.port,
        user=server.username,
        password=server.password,
        database=server.database,
    )
    stem = f"flowsight_replay_{uuid.uuid4().hex[:8]}"
    created: list[str] = []
    try:
        for build in builds:
            name = f"{stem}_{build}"
            await connection.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
        yield [server.set(database=name).render_as_string(hide_password=False) for name in created]
    finally:
        for name in created:
            try:
                await drop_database(connection, name)
            except asyncpg.PostgresError as error:
                log.warning("database %s left on the server (drop it): %s", name, error)
        await connection.close()


@asynccontextmanager
async def read_models(database_url: str | None) -> AsyncIterator[tuple[str | None, str | None]]:
    """The live build's and the replay's databases: each stage's own SQLite file without a URL;
    with a PostgreSQL URL, two fresh databases on its server."""
    if not database_url:
        yield None, None
        return
    async with fresh_databases(database_url, "live", "replay") as (live, replay):
        yield live, replay


async def bench_replay(
    bootstrap: str,
    directory: Path,
    events: list[dict[str, Any]],
    days: float,
    volume: float,
    database_url: str | None,
    on_live: Advance | None = None,
    on_replay: Advance | None = None,
) -> Report:
    """Run `bench replay`: the live build and the replay, each on its own stage and database."""
    today = london_today()  # both builds' figures compared up to the same day
    async with read_models(database_url) as (live_url, replay_url):
        with stage(bootstrap, directory / "live", live_url) as flowsight:
            live = await build_live(flowsight, events, on_live, today)
        with stage(bootstrap, directory / "replay", replay_url) as flowsight:
            replay, raw_seconds = await build_replay(flowsight, events, on_replay, today)
    store = "PostgreSQL" if database_url else "SQLite"
    return replay_report(live, replay, raw_seconds, len(events), days, volume, store)


def _reasons(refused: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(refused.items())) or "none"


def replay_report(
    live: Build,
    replay: Build,
    raw_seconds: float,
    events: int,
    days: float,
    volume: float,
    store: str = "SQLite",
) -> Report:
    """The printed result of `bench replay`."""
    report = Report(
        f"replay: {days:g} simulated days, {events:,} events, read model on {store}; "
        f"{machine_load()}"
    )
    report.figure("baseline: aiokafka read + decode", rate(events, raw_seconds))
    report.figure("replay: start to final state", rate(events, replay.seconds))
    report.figure(
        "replay: every record committed",
        f"{replay.committed:.1f} s; every day's figures {replay.seconds - replay.committed:.1f} s "
        "later",
    )
    count, refreshing = replay.refreshes
    report.figure(
        "replay: the worker's refreshes",
        f"{count:.0f}, {refreshing:.1f} s in all (figures computed beside the loop included)",
    )
    report.figure("live build (published in steps)", f"{live.seconds:.1f} s")
    rows = sum(len(r) for r in replay.content.values())
    differing = differences(live, replay)
    report.figure(
        "read model compared",
        f"{rows:,} rows in {len(replay.content)} tables: "
        + ("identical" if not differing else "DIFFERENT: " + "; ".join(differing)),
    )
    report.figure(
        "dead letters (live; replay)", f"{_reasons(live.refused)}; {_reasons(replay.refused)}"
    )
    report.ratio("replay / baseline rate", raw_seconds / replay.seconds)
    # A year is one census and 365 days of flow: scaling the period's days would count its
    # census again for every period in the year.
    year = (CENSUS_EVENTS + 365 * FLOW_EVENTS_PER_DAY) * volume
    per_year = year * replay.seconds / events
    report.target(
        "city-year replay ≤ 5 min, identical to live",
        f"{per_year / 60:,.1f} min for a year ({year:,.0f} events) at this rate; "
        f"{'identical' if not differing else 'different'}",
        per_year <= TARGET_SECONDS and not differing,
    )
    return report
